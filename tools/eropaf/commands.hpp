// The eropaf CLI's commands. Each returns the process exit code:
//   0 ok; 1 refused (validation, permission, a transition not allowed, not found);
//   2 usage (unknown command or flag, missing or bad value); 3 storage, key or I/O;
//   4 the server could not be reached or answered with an error.
#pragma once

#include <memory>
#include <string>

#include "args.hpp"
#include "eropaf/status.hpp"
#include "eropaf/store.hpp"

namespace eropaf::cli {

struct Context {
  std::string home;
  bool json = false;
  std::unique_ptr<store::Store> store;
};

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitStorage = 3;
constexpr int kExitNetwork = 4;

/// Runs the command named by args.words(); opens the store in ctx.home when the command needs it.
int runCommand(Context& ctx, const Args& args);

/// Prints an error (stderr, and as {"error":...} on stdout with --json) and returns its exit code.
int fail(const Context& ctx, const Status& status);
int usageError(const Context& ctx, const std::string& message);

std::string helpText();

}  // namespace eropaf::cli
