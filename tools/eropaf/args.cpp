// Command-line parsing for the eropaf CLI.
#include "args.hpp"

namespace eropaf::cli {

std::optional<Args> Args::parse(int argc, char** argv, int first,
                                const std::set<std::string>& switches, std::string& error) {
  Args a;
  int i = first;
  for (; i < argc; ++i) {
    const std::string s = argv[i];
    if (s.rfind("--", 0) == 0) break;
    a.words_.push_back(s);
  }
  for (; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0 || s.size() == 2) {
      error = "unexpected argument '" + s + "' (flags start with --)";
      return std::nullopt;
    }
    std::string value;
    const auto eq = s.find('=');
    if (eq != std::string::npos) {
      value = s.substr(eq + 1);
      s = s.substr(0, eq);
    } else if (switches.count(s) != 0) {
      value = "true";
    } else {
      if (i + 1 >= argc) {
        error = s + " needs a value";
        return std::nullopt;
      }
      value = argv[++i];
    }
    a.values_[s].push_back(value);
  }
  return a;
}

std::optional<std::string> Args::get(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> Args::unknown(const std::set<std::string>& allowed) const {
  std::vector<std::string> out;
  for (const auto& [flag, v] : values_) {
    if (allowed.count(flag) == 0) out.push_back(flag);
  }
  return out;
}

}  // namespace eropaf::cli
