#include "services/gateway/fail_safe_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/text_file.h"
#include "services/gateway/upstream_pool.h"

namespace llmrouter::gateway {

absl::StatusOr<FailSafeTable> FailSafeTable::Parse(std::string_view text) {
  FailSafeTable table;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), absl::ByAnyChar(",\n"))) {
    line = line.substr(0, line.find('#'));
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("fail-safe entry \"", line, "\" is not model=host:port|host:port"));
    }
    std::string model(absl::StripAsciiWhitespace(line.substr(0, eq)));
    if (model.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("fail-safe entry \"", line, "\" has no model"));
    }
    std::vector<std::string>& addresses = table.routes_[model];
    for (absl::string_view address : absl::StrSplit(line.substr(eq + 1), '|')) {
      address = absl::StripAsciiWhitespace(address);
      std::string host, port;
      if (!SplitHostPort(std::string_view(address.data(), address.size()), &host, &port)) {
        return absl::InvalidArgumentError(absl::StrCat("fail-safe entry for model \"", model,
                                                       "\": \"", address, "\" is not host:port"));
      }
      addresses.emplace_back(address);
    }
  }
  return table;
}

absl::StatusOr<FailSafeTable> FailSafeTable::FromFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<FailSafeTable> table = Parse(*text);
  if (!table.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", table.status().message()));
  }
  return table;
}

absl::StatusOr<std::unique_ptr<Reloadable<FailSafeTable>>> FailSafeTable::Follow(std::string routes,
                                                                                 std::string path) {
  auto changed = path.empty() ? Reloadable<FailSafeTable>::Changed([] { return false; })
                              : AnyFileChanged({path});
  return Reloadable<FailSafeTable>::Create(
      std::move(changed), [routes, path]() -> absl::StatusOr<FailSafeTable> {
        ASSIGN_OR_RETURN(FailSafeTable table, Parse(routes));
        if (!path.empty()) {
          ASSIGN_OR_RETURN(FailSafeTable from_file, FromFile(path));
          table.Merge(from_file);
        }
        return table;
      });
}

void FailSafeTable::Merge(const FailSafeTable& other) {
  for (const auto& [model, addresses] : other.routes_) {
    std::vector<std::string>& mine = routes_[model];
    mine.insert(mine.end(), addresses.begin(), addresses.end());
  }
}

absl::StatusOr<v1::RouteRequestResponse> FailSafeTable::Route(std::string_view model) const {
  auto it = routes_.find(absl::string_view(model.data(), model.size()));
  if (it == routes_.end() || it->second.empty()) {
    return absl::NotFoundError(
        absl::StrCat("model \"", std::string(model), "\" has no fail-safe route"));
  }
  v1::RouteRequestResponse response;
  response.set_decision_id("failsafe");
  response.set_policy_rule("failsafe");
  for (std::size_t i = 0; i < it->second.size(); ++i) {
    v1::Target* target = i == 0 ? response.mutable_target() : response.add_fallbacks();
    target->set_endpoint_id(absl::StrCat("failsafe:", it->second[i]));
    target->set_address(it->second[i]);
    target->set_scheme("http");
    target->set_model(std::string(model));
  }
  return response;
}

}  // namespace llmrouter::gateway
