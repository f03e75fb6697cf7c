#include "services/gateway/upstream_credentials.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/text_file.h"

namespace llmrouter::gateway {

absl::StatusOr<UpstreamCredentials> UpstreamCredentials::Parse(std::string_view spec) {
  UpstreamCredentials out;
  for (absl::string_view entry :
       absl::StrSplit(absl::string_view(spec.data(), spec.size()), ',', absl::SkipEmpty())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::size_t eq = entry.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "upstream credential \"", entry, "\" is not host:port=env:VAR or host:port=file:PATH"));
    }
    std::string address(entry.substr(0, eq));
    absl::string_view source = entry.substr(eq + 1);
    std::string secret;
    if (absl::ConsumePrefix(&source, "env:")) {
      const char* value = std::getenv(std::string(source).c_str());
      secret = value == nullptr ? "" : value;
      absl::StripAsciiWhitespace(&secret);
      if (secret.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("upstream credential for ", address,
                                                       ": environment variable ", source,
                                                       " is not set or empty"));
      }
    } else if (absl::ConsumePrefix(&source, "file:")) {
      std::string path(source);
      absl::StatusOr<std::string> text = ReadSecretFile(path);
      if (!text.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("upstream credential for ", address, ": ", text.status().message()));
      }
      secret = *std::move(text);
      out.files_.push_back(std::move(path));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("upstream credential for ", address,
                                                     ": source must start with env: or file:"));
    }
    out.headers_[address] = absl::StrCat("Bearer ", secret);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Reloadable<UpstreamCredentials>>> UpstreamCredentials::Follow(
    std::string spec) {
  ASSIGN_OR_RETURN(UpstreamCredentials first, Parse(spec));
  return Reloadable<UpstreamCredentials>::Create(
      AnyFileChanged(first.files()),
      [spec = std::move(spec)]() -> absl::StatusOr<UpstreamCredentials> { return Parse(spec); });
}

std::string_view UpstreamCredentials::AuthorizationFor(std::string_view address) const {
  auto it = headers_.find(absl::string_view(address.data(), address.size()));
  if (it == headers_.end()) return {};
  return it->second;
}

}  // namespace llmrouter::gateway
