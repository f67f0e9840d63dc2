// The results report's outside forms (report_format.hpp).
#include "report_format.hpp"

#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>

#include "eropaf/norms.hpp"

namespace eropaf::server {
namespace {

std::optional<norms::Date> parseDay(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  const auto num = [&](std::size_t at, std::size_t len, auto& out) {
    const char* b = s.data() + at;
    const auto [p, ec] = std::from_chars(b, b + len, out);
    return ec == std::errc() && p == b + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  const norms::Date date{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!date.ok() || y < 2000 || y > 2199) return std::nullopt;
  return date;
}

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"') o.push_back('"');
    o.push_back(c);
  }
  return o + "\"";
}

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string o;
  for (std::size_t i = 0; i < v.size(); ++i) o += (i == 0 ? "" : sep) + v[i];
  return o;
}

std::string sectionTitle(const std::string& section) {
  if (section == "signalen") return "Signalen";
  if (section == "signalen_per_categorie") return "Signalen per categorie";
  if (section == "signalen_per_bron") return "Signalen per bron (rol van de melder)";
  if (section == "eerste_poging") return "Tijd tot eerste contactpoging";
  if (section == "eerste_gesprek") return "Tijd tot eerste gesprek";
  if (section == "pogingen_per_casus") return "Contactpogingen per casus";
  if (section == "afsluitingen") return "Afsluitingen per afsluitcode";
  if (section == "open_caseload") return "Open casussen naar leeftijd (einde periode)";
  return section;
}

}  // namespace

std::string amsterdamDay(std::int64_t utc_ms) {
  const norms::Date d = norms::amsterdamDate(utc_ms);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

Result<ReportQuery> reportQueryForDays(std::string_view from, std::string_view to,
                                       std::vector<std::string> wijken) {
  const std::optional<norms::Date> f = parseDay(from);
  if (!f) {
    return Status(ErrorCode::kInvalidArgument,
                  "from '" + std::string(from.substr(0, 32)) + "' is not a date YYYY-MM-DD",
                  "from");
  }
  const std::optional<norms::Date> t = parseDay(to);
  if (!t) {
    return Status(ErrorCode::kInvalidArgument,
                  "to '" + std::string(to.substr(0, 32)) + "' is not a date YYYY-MM-DD", "to");
  }
  if (*t < *f) return Status(ErrorCode::kInvalidArgument, "to is before from", "period");
  ReportQuery q;
  q.from_ms = norms::startOfDayMs(*f);
  q.to_ms = norms::startOfDayMs(norms::Date{std::chrono::sys_days{*t} + std::chrono::days{1}});
  q.wijken = std::move(wijken);
  return q;
}

v1::Report toProto(const Report& report) {
  v1::Report out;
  out.set_from(amsterdamDay(report.from_ms));
  out.set_to(amsterdamDay(report.to_ms - 1));
  for (const std::string& w : report.wijken) out.add_wijken(w);
  out.set_as_of_ms(report.as_of_ms);
  for (const ReportRow& r : report.rows) {
    v1::ReportRow* row = out.add_rows();
    row->set_section(r.section);
    row->set_key(r.key);
    row->set_label(r.label);
    row->set_value(r.value);
    row->set_suppressed(r.suppressed);
  }
  return out;
}

std::string reportJson(const Report& report) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  std::string out;
  static_cast<void>(google::protobuf::util::MessageToJsonString(toProto(report), &out, o));
  return out;
}

std::string reportCsv(const Report& report) {
  std::string out = "section,key,label,value\n";
  const auto line = [&](const std::string& section, const std::string& key,
                        const std::string& label, const std::string& value) {
    out += csvField(section) + "," + csvField(key) + "," + csvField(label) + "," + csvField(value) +
           "\n";
  };
  line("rapport", "van", "Eerste dag", amsterdamDay(report.from_ms));
  line("rapport", "tot_en_met", "Laatste dag", amsterdamDay(report.to_ms - 1));
  line("rapport", "wijken", "Wijken", joined(report.wijken, " "));
  line("rapport", "peilmoment_ms", "Peilmoment (ms)", std::to_string(report.as_of_ms));
  for (const ReportRow& r : report.rows) line(r.section, r.key, r.label, r.value);
  return out;
}

std::string reportText(const Report& report) {
  std::string out = "Rapportage " + amsterdamDay(report.from_ms) + " t/m " +
                    amsterdamDay(report.to_ms - 1) + ", wijken " + joined(report.wijken, ", ") +
                    "\n";
  std::string section;
  char buf[160];
  for (const ReportRow& r : report.rows) {
    if (r.section != section) {
      section = r.section;
      out += "\n" + sectionTitle(section) + "\n";
    }
    // Pad by characters, not bytes: labels are UTF-8 ("Coördinator").
    std::size_t width = 0;
    for (const char ch : r.label) width += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    out += "  " + r.label + std::string(width < 44 ? 44 - width : 0, ' ');
    std::snprintf(buf, sizeof buf, " %10s\n", r.value.c_str());
    out += buf;
  }
  out += "\nAantallen van 1 tot 4 (en cijfers over minder dan 5 casussen) staan als <5.\n";
  return out;
}

}  // namespace eropaf::server
