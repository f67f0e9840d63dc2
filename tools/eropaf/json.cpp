// JSON output.
#include "json.hpp"

#include <cstdio>

namespace eropaf::cli {

std::string jsonEscape(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string Json::dump() const {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return jsonEscape(v);
        } else if constexpr (std::is_same_v<T, std::shared_ptr<Object>>) {
          std::string out = "{";
          bool first = true;
          for (const auto& [k, val] : *v) {
            if (!first) out.push_back(',');
            first = false;
            out += jsonEscape(k) + ":" + val.dump();
          }
          return out + "}";
        } else {
          std::string out = "[";
          bool first = true;
          for (const auto& val : *v) {
            if (!first) out.push_back(',');
            first = false;
            out += val.dump();
          }
          return out + "]";
        }
      },
      v_);
}

}  // namespace eropaf::cli
