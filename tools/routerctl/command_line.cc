#include "tools/routerctl/command_line.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace llmrouter::routerctl {
namespace {

const FlagSpec* FindSpec(absl::Span<const FlagSpec> specs, absl::string_view name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<CommandLine> CommandLine::Parse(const std::vector<std::string>& args,
                                               absl::Span<const FlagSpec> specs) {
  CommandLine cl;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (flags_ended || !absl::StartsWith(word, "-") || word == "-") {
      cl.positional_.push_back(word);
      continue;
    }
    if (word == "--") {
      flags_ended = true;
      continue;
    }
    // Accept -flag as well as --flag, as gflags-style tools do.
    absl::string_view body = absl::StartsWith(word, "--") ? absl::string_view(word).substr(2)
                                                          : absl::string_view(word).substr(1);
    std::optional<std::string> value;
    if (size_t eq = body.find('='); eq != absl::string_view::npos) {
      value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
    }
    const FlagSpec* spec = FindSpec(specs, body);
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", body));
    std::string name(body);
    if (spec->kind == FlagKind::kBool) {
      if (value && *value != "true" && *value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value (or =true / =false), got \"", *value, "\""));
      }
      cl.flags_[name] = {value.value_or("true")};
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    std::vector<std::string>& values = cl.flags_[name];
    if (spec->kind == FlagKind::kValue) values.clear();
    values.push_back(*std::move(value));
  }
  return cl;
}

bool CommandLine::Has(absl::string_view name) const { return flags_.find(name) != flags_.end(); }

std::optional<std::string> CommandLine::Get(absl::string_view name) const {
  auto it = flags_.find(name);
  if (it == flags_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> CommandLine::GetAll(absl::string_view name) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? std::vector<std::string>() : it->second;
}

bool CommandLine::GetBool(absl::string_view name) const { return Get(name) == "true"; }

absl::StatusOr<std::optional<uint64_t>> CommandLine::GetUint(absl::string_view name) const {
  std::optional<std::string> value = Get(name);
  if (!value) return std::optional<uint64_t>();
  uint64_t n = 0;
  if (!absl::SimpleAtoi(*value, &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a non-negative integer, got \"", *value, "\""));
  }
  return std::optional<uint64_t>(n);
}

std::vector<std::string> CommandLine::FlagNames() const {
  std::vector<std::string> names;
  for (const auto& [name, values] : flags_) names.push_back(name);
  return names;
}

absl::StatusOr<uint64_t> ParsePositiveInteger(absl::string_view what, absl::string_view word) {
  uint64_t n = 0;
  if (!absl::SimpleAtoi(word, &n) || n == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a positive integer, got \"", word, "\""));
  }
  return n;
}

}  // namespace llmrouter::routerctl
