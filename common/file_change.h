// Notices when a file changes, by modification time and size; how a service follows a file
// it was started with (a Kubernetes ConfigMap is replaced through a symlink swap, which this
// sees because stat() follows the link).
#ifndef LLMROUTER_COMMON_FILE_CHANGE_H_
#define LLMROUTER_COMMON_FILE_CHANGE_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace llmrouter {

// Not thread-safe: one owner polls it.
class FileChangeDetector {
 public:
  // Remembers the file's current state: the first Changed() is false unless it changes later.
  explicit FileChangeDetector(std::string path) : path_(std::move(path)), seen_(Read()) {}

  // True when the file exists and differs from when it was last seen.
  bool Changed() {
    Stamp now = Read();
    if (!now.exists || now == seen_) return false;
    seen_ = now;
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  struct Stamp {
    bool exists = false;
    int64_t mtime_ns = 0;
    int64_t size = 0;
    int64_t inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  Stamp Read() const {
    struct stat st;
    if (stat(path_.c_str(), &st) != 0) return Stamp{};
    return Stamp{true, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                 static_cast<int64_t>(st.st_size), static_cast<int64_t>(st.st_ino)};
  }
  std::string path_;
  Stamp seen_;
};

}  // namespace llmrouter

#endif  // LLMROUTER_COMMON_FILE_CHANGE_H_
