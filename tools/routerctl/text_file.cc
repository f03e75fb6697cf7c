#include "tools/routerctl/text_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace llmrouter::routerctl {

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::stringstream buf;
  if (path == "-") {
    buf << std::cin.rdbuf();
    return buf.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", strerror(errno)));
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace llmrouter::routerctl
