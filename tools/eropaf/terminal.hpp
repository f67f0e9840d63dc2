// Terminal-safe text output: record fields (titles, notes, device and worker names) come from
// other people's devices, and a control character in one (ESC [2J, a C1 CSI, DEL) would act on
// the reader's terminal. TerminalSafeBuf sits between std::cout / std::cerr and the terminal and
// shows every control character except newline and tab as a visible escape (\x1b, \u009b).
// Thread-safety: like the stream it wraps (the CLI writes from one thread).
#pragma once

#include <streambuf>

namespace eropaf::cli {

class TerminalSafeBuf final : public std::streambuf {
 public:
  /// Ownership: `out` is borrowed and must outlive this buffer.
  explicit TerminalSafeBuf(std::streambuf* out) : out_(out) {}

 protected:
  int_type overflow(int_type ch) override;
  int sync() override;

 private:
  bool put(const char* s);
  std::streambuf* out_;
  bool pending_c2_ = false;  ///< 0xC2 seen: the next byte may make a C1 control (U+0080..9F)
};

/// Replaces the buffers of std::cout (unless `json`: JSON escapes its own strings) and std::cerr
/// with TerminalSafeBuf for the rest of the process.
void makeOutputTerminalSafe(bool json);

}  // namespace eropaf::cli
