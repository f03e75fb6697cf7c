// routerctl: the operator CLI of llm-router (see `routerctl help` and docs/services.md).
#include <iostream>

#include "tools/routerctl/routerctl_commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return llmrouter::routerctl::RunRouterctl(args, llmrouter::routerctl::ProcessEnv, std::cout,
                                            std::cerr);
}
