// Configuration that may change while a service runs (a file an operator edits, a mounted
// Kubernetes Secret, a database) held as an immutable value: readers take the current one without
// a lock, and one thread rebuilds it when its sources change.
#ifndef LLMROUTER_COMMON_RELOADABLE_H_
#define LLMROUTER_COMMON_RELOADABLE_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/file_change.h"

namespace llmrouter {

// Get() is safe from any thread and costs one atomic shared_ptr load. ReloadIfChanged() is
// called from one thread at a time (a PeriodicTask); `changed` and `build` run only there (and
// in Create).
template <typename T>
class Reloadable {
 public:
  // True when the sources may differ from what the last build read.
  using Changed = std::function<bool()>;
  using Build = std::function<absl::StatusOr<T>()>;

  // Builds the first value; the build's error when that fails.
  static absl::StatusOr<std::unique_ptr<Reloadable>> Create(Changed changed, Build build) {
    absl::StatusOr<T> first = build();
    if (!first.ok()) return first.status();
    return std::unique_ptr<Reloadable>(
        new Reloadable(std::move(changed), std::move(build), *std::move(first)));
  }
  // A value that never changes: for configuration given on the command line, and for tests.
  static std::unique_ptr<Reloadable> Fixed(T value) {
    return std::unique_ptr<Reloadable>(
        new Reloadable([] { return false; }, nullptr, std::move(value)));
  }

  std::shared_ptr<const T> Get() const { return value_.load(std::memory_order_acquire); }

  // Rebuilds the value when the sources changed. True when a new value is in use, false when
  // nothing changed; the build's error otherwise, and the previous value stays. A failed build
  // is tried again even when nothing changes (a busy database, a file caught half-written):
  // after 2 calls, then 4, 8, 16 and every 32 calls, so that a change behind it (a revoked key)
  // is not lost while a lasting error is not rebuilt on every call.
  absl::StatusOr<bool> ReloadIfChanged() {
    bool changed = changed_();
    if (!changed && retry_after_ > 0) changed = --retry_after_ == 0;
    if (!changed) return false;
    absl::StatusOr<T> next = build_();
    if (!next.ok()) {
      retry_backoff_ = std::min(retry_backoff_ * 2, kMaxRetryBackoff);
      retry_after_ = retry_backoff_;
      return next.status();
    }
    retry_after_ = 0;
    retry_backoff_ = 1;
    value_.store(std::make_shared<const T>(*std::move(next)), std::memory_order_release);
    return true;
  }

 private:
  Reloadable(Changed changed, Build build, T first)
      : changed_(std::move(changed)),
        build_(std::move(build)),
        value_(std::make_shared<const T>(std::move(first))) {}

  static constexpr int kMaxRetryBackoff = 32;

  Changed changed_;
  Build build_;
  int retry_after_ = 0;    // calls until a failed build is tried again; 0: none failed
  int retry_backoff_ = 1;  // doubles with each failure in a row
  std::atomic<std::shared_ptr<const T>> value_;
};

// A Reloadable::Changed that is true when any of `paths` changed since it last looked (by
// modification time, size and inode, so a replaced file or a swapped symlink counts).
inline std::function<bool()> AnyFileChanged(const std::vector<std::string>& paths) {
  auto detectors = std::make_shared<std::vector<FileChangeDetector>>();
  for (const std::string& path : paths) detectors->emplace_back(path);
  return [detectors] {
    bool any = false;
    for (FileChangeDetector& d : *detectors) any = d.Changed() || any;  // look at every one
    return any;
  };
}

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_RELOADABLE_H_
