// Default options of AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer for every
// program of a sanitized build (LLMROUTER_SANITIZE), linked into each of them so that the
// services a test starts, whatever environment it gives them, stop at the first report with a
// distinct exit code. ASAN_OPTIONS, LSAN_OPTIONS and UBSAN_OPTIONS still override them.

extern "C" {

const char* __asan_default_options() {
  return "detect_leaks=1:halt_on_error=1:exitcode=66:strict_init_order=1:"
         "check_initialization_order=1:detect_stack_use_after_return=0:print_summary=1";
}

const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:exitcode=66:report_error_type=1";
}

const char* __lsan_default_options() { return "exitcode=66"; }

// The only leak allowed: an allocation of c-ares, gRPC's DNS resolver, that gRPC leaves at exit
// (10 bytes, allocated inside libcares.so.2, whose frames have no symbols, so the module is
// what matches). Nothing of ours may match this.
const char* __lsan_default_suppressions() { return "leak:libcares.so\n"; }

}  // extern "C"
