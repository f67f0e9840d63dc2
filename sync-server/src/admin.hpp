// eropaf-server admin: the functioneel beheerder's commands, run against the server's
// database (also while the server runs: SQLite WAL allows it).
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace eropaf::server {

/// Runs one admin command; returns the exit code (0 ok, 1 refused, 2 usage, 3 storage).
int runAdmin(const Config& config, const std::vector<std::string>& args, bool json);

}  // namespace eropaf::server
