// Escaping control characters on the way to the terminal.
#include "terminal.hpp"

#include <cstdio>
#include <iostream>

namespace eropaf::cli {

bool TerminalSafeBuf::put(const char* s) {
  for (; *s != '\0'; ++s) {
    if (out_->sputc(*s) == traits_type::eof()) return false;
  }
  return true;
}

TerminalSafeBuf::int_type TerminalSafeBuf::overflow(int_type ch) {
  if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
  const auto c = static_cast<unsigned char>(traits_type::to_char_type(ch));
  char esc[16];
  if (pending_c2_) {
    pending_c2_ = false;
    if (c >= 0x80 && c <= 0x9F) {
      std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
      return put(esc) ? ch : traits_type::eof();
    }
    if (out_->sputc(static_cast<char>(0xC2)) == traits_type::eof()) return traits_type::eof();
  }
  if (c == 0xC2) {
    pending_c2_ = true;
    return ch;
  }
  if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
    std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned>(c));
    return put(esc) ? ch : traits_type::eof();
  }
  return out_->sputc(static_cast<char>(c)) == traits_type::eof() ? traits_type::eof() : ch;
}

int TerminalSafeBuf::sync() {
  // A flush comes between whole strings, never inside one: a 0xC2 still held is not the start
  // of a C1 control and goes out as is.
  if (pending_c2_) {
    pending_c2_ = false;
    if (out_->sputc(static_cast<char>(0xC2)) == traits_type::eof()) return -1;
  }
  return out_->pubsync();
}

void makeOutputTerminalSafe(bool json) {
  // Unbuffered on our side: every character reaches overflow(), the wrapped buffer buffers.
  // Never destroyed: the standard streams flush at exit, after function statics are gone.
  std::cerr.rdbuf(new TerminalSafeBuf(std::cerr.rdbuf()));
  if (!json) std::cout.rdbuf(new TerminalSafeBuf(std::cout.rdbuf()));
}

}  // namespace eropaf::cli
