// The static routing table the gateway falls back on when the decision service cannot answer in
// time: model name → backend addresses, from a flag or a file an operator keeps.
#ifndef LLMROUTER_SERVICES_GATEWAY_FAIL_SAFE_TABLE_H_
#define LLMROUTER_SERVICES_GATEWAY_FAIL_SAFE_TABLE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/reloadable.h"
#include "llmrouter/v1/decision.pb.h"

namespace llmrouter::gateway {

// Immutable once built, so safe for concurrent reads. Entries are "model=host:port|host:port"
// separated by commas or newlines; in a file, '#' starts a comment and blank lines are skipped.
// Parse errors are InvalidArgument naming the entry.
class FailSafeTable {
 public:
  FailSafeTable() = default;

  static absl::StatusOr<FailSafeTable> Parse(std::string_view text);
  static absl::StatusOr<FailSafeTable> FromFile(const std::string& path);
  // The table of `routes` (Parse syntax) merged with the file at `path` (none when empty),
  // rebuilt when the file changes; a bad edit keeps the previous table.
  static absl::StatusOr<std::unique_ptr<Reloadable<FailSafeTable>>> Follow(std::string routes,
                                                                           std::string path);
  // Adds every entry of `other`; a model in both keeps this table's addresses first.
  void Merge(const FailSafeTable& other);

  bool empty() const { return routes_.empty(); }
  std::size_t size() const { return routes_.size(); }

  // The decision the table makes for `model`: the first address as target, the rest as
  // fallbacks, decision id "failsafe". NotFound when the table does not know the model.
  absl::StatusOr<v1::RouteRequestResponse> Route(std::string_view model) const;

 private:
  absl::flat_hash_map<std::string, std::vector<std::string>> routes_;
};

}  // namespace llmrouter::gateway

#endif  // LLMROUTER_SERVICES_GATEWAY_FAIL_SAFE_TABLE_H_
