# Writes a C++ source defining `const unsigned char <SYMBOL>[]` and `<SYMBOL>_size` with the
# bytes of INPUT (cmake -DINPUT=... -DOUTPUT=... -DSYMBOL=... -P embed_file.cmake). A generated
# source, unlike an assembler .incbin, lets ccache see when the embedded file changes.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){32})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}"
  "// Generated from ${SYMBOL}'s source file by cmake/embed_file.cmake; do not edit.\n"
  "#include <cstddef>\n"
  "extern const unsigned char ${SYMBOL}[] = {\n${bytes}0};\n"
  "extern const std::size_t ${SYMBOL}_size = ${size};\n")
