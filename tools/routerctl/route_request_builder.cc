#include "tools/routerctl/route_request_builder.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "tools/routerctl/text_file.h"

namespace llmrouter::routerctl {
namespace {

namespace v1 = llmrouter::v1;

constexpr int kMaxReportedLines = 10;

absl::Status ParseJsonRequest(absl::string_view json, v1::RouteRequestRequest* out) {
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), out);
  if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::PriorityTier> ParsePriorityTier(absl::string_view tier) {
  if (tier == "interactive") return v1::PRIORITY_TIER_INTERACTIVE;
  if (tier == "standard") return v1::PRIORITY_TIER_STANDARD;
  if (tier == "batch") return v1::PRIORITY_TIER_BATCH;
  return absl::InvalidArgumentError(
      absl::StrCat("--tier must be interactive, standard or batch, got \"", tier, "\""));
}

absl::StatusOr<v1::RouteRequestRequest> BuildRouteRequest(const CommandLine& cl) {
  v1::RouteRequestRequest req;
  if (auto json = cl.Get("request")) {
    if (absl::Status s = ParseJsonRequest(*json, &req); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--request: ", s.message()));
    }
  }
  if (auto v = cl.Get("model")) req.set_model(*v);
  if (auto v = cl.Get("tenant")) req.set_tenant(*v);
  if (auto v = cl.Get("region")) req.set_region(*v);
  if (auto v = cl.Get("session")) req.set_session_key(*v);
  if (auto v = cl.Get("user")) req.set_user_key(*v);
  if (auto v = cl.Get("tier")) {
    ASSIGN_OR_RETURN(v1::PriorityTier tier, ParsePriorityTier(*v));
    req.set_priority(tier);
  }
  for (const std::string& header : cl.GetAll("header")) {
    std::pair<std::string, std::string> kv = absl::StrSplit(header, absl::MaxSplits('=', 1));
    absl::string_view name = absl::StripAsciiWhitespace(kv.first);
    if (header.find('=') == std::string::npos || name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--header must be name=value, got \"", header, "\""));
    }
    (*req.mutable_headers())[absl::AsciiStrToLower(name)] = kv.second;
  }
  if (cl.Has("prompt") && cl.Has("prompt_file")) {
    return absl::InvalidArgumentError("give --prompt or --prompt_file, not both");
  }
  if (auto v = cl.Get("prompt")) req.mutable_prompt()->set_excerpt(*v);
  if (auto path = cl.Get("prompt_file")) {
    ASSIGN_OR_RETURN(std::string text, ReadTextFile(*path));
    req.mutable_prompt()->set_excerpt(std::move(text));
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> max_tokens, cl.GetUint("max_tokens"));
  if (max_tokens) {
    if (*max_tokens > UINT32_MAX) return absl::InvalidArgumentError("--max_tokens is too large");
    req.mutable_prompt()->set_max_output_tokens(static_cast<uint32_t>(*max_tokens));
  }
  if (req.model().empty()) {
    return absl::InvalidArgumentError("a request needs --model (a model name, alias or auto)");
  }
  return req;
}

absl::StatusOr<std::vector<NumberedRequest>> ParseRequestsJsonl(absl::string_view text,
                                                                absl::string_view source) {
  std::vector<NumberedRequest> requests;
  std::vector<std::string> problems;
  int line_number = 0;
  int bad_lines = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    NumberedRequest numbered;
    numbered.line = line_number;
    absl::Status s = ParseJsonRequest(line, &numbered.request);
    if (s.ok() && numbered.request.model().empty()) {
      s = absl::InvalidArgumentError("request has no \"model\"");
    }
    if (!s.ok()) {
      if (++bad_lines <= kMaxReportedLines) {
        problems.push_back(absl::StrCat(source, ":", line_number, ": ", s.message()));
      }
      continue;
    }
    requests.push_back(std::move(numbered));
  }
  if (bad_lines > kMaxReportedLines) {
    problems.push_back(absl::StrCat("... and ", bad_lines - kMaxReportedLines, " more bad lines"));
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  if (requests.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no requests"));
  }
  return requests;
}

}  // namespace llmrouter::routerctl
