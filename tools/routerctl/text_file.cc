#include "tools/routerctl/text_file.h"

#include <iostream>
#include <sstream>

#include "common/text_file.h"

namespace llmrouter::routerctl {

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::stringstream buf;
  if (path == "-") {
    buf << std::cin.rdbuf();
    return buf.str();
  }
  return llmrouter::ReadTextFile(path);
}

}  // namespace llmrouter::routerctl
