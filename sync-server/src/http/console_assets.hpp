// The console's static files (console/ at the repository root and Debian's Chart.js), embedded
// into the binary at build time by cmake/embed_assets.cmake, and how the router answers them.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/router.hpp"

namespace eropaf::server {

struct Asset {
  std::string_view path;          ///< what the server answers: "/console/app.js"
  std::string_view content_type;  ///< by extension
  std::string_view bytes;
};

/// Every embedded file (generated source).
std::span<const Asset> consoleAssets();

/// The answer for GET of a console page or file: "/console" redirects to "/console/",
/// which is index.html; a query string is ignored. The caller adds the security headers
/// (ConsoleRoutes::addSecurityHeaders). Empty for a target outside /console or an
/// unknown file (the router answers 404).
std::optional<Response> consoleAsset(std::string_view target);

}  // namespace eropaf::server
