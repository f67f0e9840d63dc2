#include "http/console_assets.hpp"

namespace eropaf::server {

std::optional<Response> consoleAsset(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/console") {
    Response r;
    r.status = 308;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "/console/\n";
    r.headers.emplace_back("Location", "/console/");
    return r;
  }
  if (path == "/console/") path = "/console/index.html";
  for (const Asset& a : consoleAssets()) {
    if (a.path != path) continue;
    Response r;
    r.content_type = std::string(a.content_type);
    r.body = std::string(a.bytes);
    // Pages and scripts change with the binary; the browser asks again each time.
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  return std::nullopt;
}

}  // namespace eropaf::server
