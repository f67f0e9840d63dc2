// A small command-line parser: command words, then --flag value pairs (a flag may repeat),
// and boolean switches. Unknown flags are errors, so a typo never silently changes meaning.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace eropaf::cli {

class Args {
 public:
  /// Parses argv[first..]: leading words without "--" are the command path; the rest are
  /// flags. `switches` are flags that take no value.
  static std::optional<Args> parse(int argc, char** argv, int first,
                                   const std::set<std::string>& switches, std::string& error);

  const std::vector<std::string>& words() const { return words_; }
  std::string word(std::size_t i) const { return i < words_.size() ? words_[i] : ""; }

  bool has(const std::string& flag) const { return values_.count(flag) != 0; }
  /// The last value of a flag.
  std::optional<std::string> get(const std::string& flag) const;
  std::vector<std::string> all(const std::string& flag) const;
  /// Flags given that are not in `allowed` (for "unknown flag" errors).
  std::vector<std::string> unknown(const std::set<std::string>& allowed) const;

 private:
  std::vector<std::string> words_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace eropaf::cli
