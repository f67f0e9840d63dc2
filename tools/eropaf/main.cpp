// eropaf: the command-line device. Thin: global flags, then one command (commands.cpp).
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "commands.hpp"
#include "terminal.hpp"

int main(int argc, char** argv) {
  using namespace eropaf::cli;
  Context ctx;
  if (const char* env = std::getenv("EROPAF_HOME"); env != nullptr && *env != '\0') {
    ctx.home = env;
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    ctx.home = std::string(home) + "/.eropaf";
  } else {
    ctx.home = ".eropaf";
  }
  // Global flags may stand anywhere; take them out before the command's own parsing.
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      ctx.json = true;
    } else if (a == "--home") {
      if (i + 1 >= argc) return usageError(ctx, "--home needs a directory");
      ctx.home = argv[++i];
    } else if (a.rfind("--home=", 0) == 0) {
      ctx.home = a.substr(7);
    } else if (a == "--help" || a == "-h" || a == "help") {
      std::cout << helpText();
      return kExitOk;
    } else {
      rest.push_back(argv[i]);
    }
  }
  makeOutputTerminalSafe(ctx.json);
  if (rest.size() == 1) {
    std::cerr << helpText();
    return kExitUsage;
  }
  std::string error;
  auto args = Args::parse(static_cast<int>(rest.size()), rest.data(), 1,
                          {"--online", "--watch", "--all", "--new-case", "--force"}, error);
  if (!args) return usageError(ctx, error);
  try {
    return runCommand(ctx, *args);
  } catch (const std::exception& e) {
    return fail(ctx, eropaf::Status(eropaf::ErrorCode::kInternal, e.what()));
  }
}
