// routerctl's argv parser: subcommand words plus `--flag=value` / `--flag value` flags, which
// may appear anywhere after the program name. absl flags do not model subcommands well.
#ifndef LLMROUTER_TOOLS_ROUTERCTL_COMMAND_LINE_H_
#define LLMROUTER_TOOLS_ROUTERCTL_COMMAND_LINE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace llmrouter::routerctl {

// How a flag takes its value.
enum class FlagKind {
  kBool,      // `--json`, `--json=false`; never consumes the next word
  kValue,     // `--limit 5` or `--limit=5`; the last occurrence wins
  kRepeated,  // `--header a=1 --header b=2`; every occurrence is kept
};

struct FlagSpec {
  absl::string_view name;  // without the leading dashes
  FlagKind kind;
};

// The words and flags of one invocation, before any of them is given a meaning. A value type.
class CommandLine {
 public:
  // Splits `args` (argv without the program name). `--` ends flags: every later word is
  // positional. InvalidArgument for a flag not in `specs`, a value flag without a value, or a
  // bool flag given something other than true/false.
  static absl::StatusOr<CommandLine> Parse(const std::vector<std::string>& args,
                                           absl::Span<const FlagSpec> specs);

  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(absl::string_view name) const;
  // The last value of a value flag.
  std::optional<std::string> Get(absl::string_view name) const;
  std::vector<std::string> GetAll(absl::string_view name) const;
  bool GetBool(absl::string_view name) const;
  // The value of a flag that must be an unsigned integer; nullopt when absent,
  // InvalidArgument naming the flag when it is not a number.
  absl::StatusOr<std::optional<uint64_t>> GetUint(absl::string_view name) const;
  // Names of every flag given, sorted.
  std::vector<std::string> FlagNames() const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::vector<std::string>, std::less<>> flags_;
};

// Parses a positional word that must be a positive integer, e.g. a revision number;
// InvalidArgument naming `what` otherwise.
absl::StatusOr<uint64_t> ParsePositiveInteger(absl::string_view what, absl::string_view word);

}  // namespace llmrouter::routerctl

#endif  // LLMROUTER_TOOLS_ROUTERCTL_COMMAND_LINE_H_
