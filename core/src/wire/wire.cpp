// Records ↔ eropaf.v1 messages. Enum numbers are equal on both sides by construction
// (model.hpp mirrors records.proto); decoding still checks every number, because bytes from
// outside may carry values this build does not know.
#include "eropaf/wire.hpp"

#include "eropaf/norms.hpp"
#include "wire/wire_mapping.hpp"

namespace eropaf::wire {
namespace {

// --- encoding ----------------------------------------------------------------------------

template <class Msg>
void putVersion(const Version& v, Msg* out) {
  out->set_hlc(v.hlc);
  out->set_node(v.node);
}

void putString(const Lww<std::string>& f, v1::StringField* out) {
  out->set_value(f.value);
  putVersion(f.version, out->mutable_version());
}

template <class T>
void putInt(const Lww<T>& f, v1::Int64Field* out) {
  out->set_value(static_cast<std::int64_t>(f.value));
  putVersion(f.version, out->mutable_version());
}

void putBool(const Lww<bool>& f, v1::BoolField* out) {
  out->set_value(f.value);
  putVersion(f.version, out->mutable_version());
}

void putAddress(const Address& a, v1::Address* out) {
  out->set_postcode(a.postcode);
  out->set_house_number(a.house_number);
  out->set_addition(a.addition);
  out->set_street(a.street);
  out->set_city(a.city);
}

// Unset fields (zero version) are left out of the message entirely: deltas stay small.
#define EROPAF_PUT(kind, field, msg) \
  if (in.field.isSet()) put##kind(in.field, (msg)->mutable_##field())

void encode(const Signal& in, v1::Signal* out) {
  out->set_id(in.id);
  if (!in.created.isZero()) {
    putVersion(in.created, out->mutable_created());
    v1::SignalContent* c = out->mutable_content();
    const SignalContent& s = in.content;
    c->set_reporter_id(s.reporter_id);
    c->set_source_role(static_cast<v1::SourceRole>(s.source_role));
    c->set_wijk(s.wijk);
    putAddress(s.address, c->mutable_address());
    c->set_household_key(s.household_key);
    for (const auto& cat : s.categories) c->add_categories(cat);
    c->set_urgency(static_cast<v1::Urgency>(s.urgency));
    c->set_observed_at_ms(s.observed_at_ms);
    c->set_text(s.text);
    c->set_informed(static_cast<v1::Informed>(s.informed));
  }
  EROPAF_PUT(String, case_id, out);
  EROPAF_PUT(Int, triage_state, out);
  EROPAF_PUT(String, duplicate_of, out);
  EROPAF_PUT(Bool, deleted, out);
  EROPAF_PUT(String, triage_reason, out);
}

void encode(const Case& in, v1::Case* out) {
  out->set_id(in.id);
  if (!in.created.isZero()) {
    putVersion(in.created, out->mutable_created());
    out->set_opened_by(in.opened_by);
    out->set_opened_at_ms(in.opened_at_ms);
  }
  EROPAF_PUT(String, wijk, out);
  EROPAF_PUT(String, household_key, out);
  if (in.address.isSet()) {
    putAddress(in.address.value, out->mutable_address()->mutable_value());
    putVersion(in.address.version, out->mutable_address()->mutable_version());
  }
  EROPAF_PUT(String, title, out);
  for (const auto& [value, entry] : in.categories) {
    v1::SetElement* e = out->add_categories();
    e->set_value(value);
    e->set_present(entry.present);
    putVersion(entry.version, e->mutable_version());
  }
  EROPAF_PUT(Int, state, out);
  EROPAF_PUT(String, assignee, out);
  EROPAF_PUT(Int, priority, out);
  EROPAF_PUT(Int, first_contact_due_ms, out);
  EROPAF_PUT(String, resolution_code, out);
  EROPAF_PUT(String, resolution_text, out);
  EROPAF_PUT(String, merged_into, out);
  EROPAF_PUT(Bool, conflict, out);
  EROPAF_PUT(Bool, deleted, out);
  EROPAF_PUT(String, priority_reason, out);
  for (const auto& [id, entry] : in.history) {
    v1::CaseHistoryEntry* e = out->add_history();
    e->set_id(entry.id);
    putVersion(entry.version, e->mutable_version());
    e->set_actor_id(entry.actor_id);
    e->set_at_ms(entry.at_ms);
    e->set_field(static_cast<v1::CaseHistoryEntry::Field>(entry.field));
    e->set_from(entry.from);
    e->set_to(entry.to);
    e->set_reason(entry.reason);
  }
}

void encode(const ContactMoment& in, v1::ContactMoment* out) {
  out->set_id(in.id);
  if (!in.created.isZero()) {
    putVersion(in.created, out->mutable_created());
    out->set_case_id(in.case_id);
    out->set_author_id(in.author_id);
    out->set_at_ms(in.at_ms);
    out->set_kind(static_cast<v1::ContactKind>(in.kind));
    out->set_outcome(static_cast<v1::ContactOutcome>(in.outcome));
    out->set_note(in.note);
    out->set_corrects_id(in.corrects_id);
  }
  EROPAF_PUT(Bool, deleted, out);
}

void encode(const Transition& in, v1::Transition* out) {
  out->set_id(in.id);
  if (!in.created.isZero()) {
    putVersion(in.created, out->mutable_created());
    out->set_case_id(in.case_id);
    out->set_from(static_cast<v1::CaseState>(in.from));
    out->set_to(static_cast<v1::CaseState>(in.to));
    out->set_actor_id(in.actor_id);
    out->set_actor_role(static_cast<v1::SourceRole>(in.actor_role));
    out->set_at_ms(in.at_ms);
    out->set_reason(in.reason);
    out->set_made_offline(in.made_offline);
    out->set_resolution_code(in.resolution_code);
  }
  EROPAF_PUT(Int, outcome, out);
  EROPAF_PUT(Bool, deleted, out);
}

#undef EROPAF_PUT

// --- decoding ----------------------------------------------------------------------------

Status badEnum(const char* field, std::int64_t value) {
  return Status(ErrorCode::kDecodeError,
                std::string(field) + " has unknown value " + std::to_string(value), field);
}

// Reads an enum number, allowing [lo, hi] (0 means "unset" and is allowed when allow_zero).
template <class E>
Status getEnum(const char* field, std::int64_t raw, E hi, bool allow_zero, E& out) {
  if (raw < (allow_zero ? 0 : 1) || raw > static_cast<std::int64_t>(hi)) {
    return badEnum(field, raw);
  }
  out = static_cast<E>(raw);
  return {};
}

Lww<std::string> getString(bool has, const v1::StringField& f) {
  if (!has) return {};
  return {f.value(), fromProto(f.version())};
}

Lww<bool> getBool(bool has, const v1::BoolField& f) {
  if (!has) return {};
  return {f.value(), fromProto(f.version())};
}

template <class E>
Status getIntEnum(const char* field, bool has, const v1::Int64Field& f, E hi, Lww<E>& out) {
  if (!has) return {};
  EROPAF_RETURN_IF_ERROR(getEnum(field, f.value(), hi, false, out.value));
  out.version = fromProto(f.version());
  return {};
}

Address getAddress(const v1::Address& a) {
  return {a.postcode(), a.house_number(), a.addition(), a.street(), a.city()};
}

Result<Signal> decode(const v1::Signal& in) {
  Signal s;
  s.id = in.id();
  if (in.has_created()) {
    s.created = fromProto(in.created());
    const v1::SignalContent& c = in.content();
    SignalContent& out = s.content;
    out.reporter_id = c.reporter_id();
    EROPAF_RETURN_IF_ERROR(
        getEnum("content.source_role", c.source_role(), Role::kAdmin, true, out.source_role));
    out.wijk = c.wijk();
    out.address = getAddress(c.address());
    out.household_key = c.household_key();
    out.categories.assign(c.categories().begin(), c.categories().end());
    EROPAF_RETURN_IF_ERROR(
        getEnum("content.urgency", c.urgency(), Urgency::kAcuut, true, out.urgency));
    out.observed_at_ms = c.observed_at_ms();
    out.text = c.text();
    EROPAF_RETURN_IF_ERROR(
        getEnum("content.informed", c.informed(), Informed::kNoRisk, true, out.informed));
  }
  s.case_id = getString(in.has_case_id(), in.case_id());
  EROPAF_RETURN_IF_ERROR(getIntEnum("triage_state", in.has_triage_state(), in.triage_state(),
                                    TriageState::kAfgewezen, s.triage_state));
  s.duplicate_of = getString(in.has_duplicate_of(), in.duplicate_of());
  s.deleted = getBool(in.has_deleted(), in.deleted());
  s.triage_reason = getString(in.has_triage_reason(), in.triage_reason());
  return s;
}

Result<Case> decode(const v1::Case& in) {
  Case c;
  c.id = in.id();
  if (in.has_created()) {
    c.created = fromProto(in.created());
    c.opened_by = in.opened_by();
    c.opened_at_ms = in.opened_at_ms();
  }
  c.wijk = getString(in.has_wijk(), in.wijk());
  c.household_key = getString(in.has_household_key(), in.household_key());
  if (in.has_address()) {
    c.address = {getAddress(in.address().value()), fromProto(in.address().version())};
  }
  c.title = getString(in.has_title(), in.title());
  for (const v1::SetElement& e : in.categories()) {
    SetEntry entry{e.present(), fromProto(e.version())};
    auto [it, inserted] = c.categories.try_emplace(e.value(), entry);
    if (!inserted && it->second.version < entry.version) it->second = entry;
  }
  EROPAF_RETURN_IF_ERROR(
      getIntEnum("state", in.has_state(), in.state(), CaseState::kHeropend, c.state));
  c.assignee = getString(in.has_assignee(), in.assignee());
  EROPAF_RETURN_IF_ERROR(
      getIntEnum("priority", in.has_priority(), in.priority(), Priority::kLaag, c.priority));
  if (in.has_first_contact_due_ms()) {
    c.first_contact_due_ms = {in.first_contact_due_ms().value(),
                              fromProto(in.first_contact_due_ms().version())};
  }
  c.resolution_code = getString(in.has_resolution_code(), in.resolution_code());
  c.resolution_text = getString(in.has_resolution_text(), in.resolution_text());
  c.merged_into = getString(in.has_merged_into(), in.merged_into());
  c.conflict = getBool(in.has_conflict(), in.conflict());
  c.deleted = getBool(in.has_deleted(), in.deleted());
  c.priority_reason = getString(in.has_priority_reason(), in.priority_reason());
  for (const v1::CaseHistoryEntry& e : in.history()) {
    HistoryEntry entry;
    entry.id = e.id();
    entry.version = fromProto(e.version());
    entry.actor_id = e.actor_id();
    entry.at_ms = e.at_ms();
    if (e.field() != v1::CaseHistoryEntry::FIELD_ASSIGNEE &&
        e.field() != v1::CaseHistoryEntry::FIELD_PRIORITY) {
      return Status(ErrorCode::kInvalidArgument,
                    "history entry field " + std::to_string(e.field()) + " is not known",
                    "history");
    }
    entry.field = static_cast<HistoryField>(e.field());
    entry.from = e.from();
    entry.to = e.to();
    entry.reason = e.reason();
    auto [it, inserted] = c.history.try_emplace(entry.id, entry);
    if (!inserted && it->second < entry) it->second = std::move(entry);
  }
  return c;
}

Result<ContactMoment> decode(const v1::ContactMoment& in) {
  ContactMoment m;
  m.id = in.id();
  if (in.has_created()) {
    m.created = fromProto(in.created());
    m.case_id = in.case_id();
    m.author_id = in.author_id();
    m.at_ms = in.at_ms();
    EROPAF_RETURN_IF_ERROR(getEnum("kind", in.kind(), ContactKind::kOverleg, true, m.kind));
    EROPAF_RETURN_IF_ERROR(
        getEnum("outcome", in.outcome(), ContactOutcome::kDoorverwezen, true, m.outcome));
    m.note = in.note();
    m.corrects_id = in.corrects_id();
  }
  m.deleted = getBool(in.has_deleted(), in.deleted());
  return m;
}

Result<Transition> decode(const v1::Transition& in) {
  Transition t;
  t.id = in.id();
  if (in.has_created()) {
    t.created = fromProto(in.created());
    t.case_id = in.case_id();
    EROPAF_RETURN_IF_ERROR(getEnum("from", in.from(), CaseState::kHeropend, true, t.from));
    EROPAF_RETURN_IF_ERROR(getEnum("to", in.to(), CaseState::kHeropend, true, t.to));
    t.actor_id = in.actor_id();
    EROPAF_RETURN_IF_ERROR(
        getEnum("actor_role", in.actor_role(), Role::kAdmin, true, t.actor_role));
    t.at_ms = in.at_ms();
    t.reason = in.reason();
    t.made_offline = in.made_offline();
    t.resolution_code = in.resolution_code();
  }
  EROPAF_RETURN_IF_ERROR(getIntEnum("outcome", in.has_outcome(), in.outcome(),
                                    TransitionOutcome::kResolved, t.outcome));
  t.deleted = getBool(in.has_deleted(), in.deleted());
  return t;
}

template <class T, class Msg>
Result<Record> lift(const Msg& m) {
  Result<T> r = decode(m);
  if (!r.ok()) return r.status();
  return Record(std::move(r).value());
}

}  // namespace

void toProto(const Version& in, v1::Version& out) { putVersion(in, &out); }
void toProto(const Signal& in, v1::Signal& out) { encode(in, &out); }
void toProto(const Case& in, v1::Case& out) { encode(in, &out); }
void toProto(const ContactMoment& in, v1::ContactMoment& out) { encode(in, &out); }
void toProto(const Transition& in, v1::Transition& out) { encode(in, &out); }

Version fromProto(const v1::Version& in) { return {in.hlc(), in.node()}; }

void toProto(const Record& in, v1::Record& out) {
  out.Clear();
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, Signal>) {
          encode(r, out.mutable_signal());
        } else if constexpr (std::is_same_v<T, Case>) {
          encode(r, out.mutable_case_());
        } else if constexpr (std::is_same_v<T, ContactMoment>) {
          encode(r, out.mutable_contact_moment());
        } else {
          encode(r, out.mutable_transition());
        }
      },
      in);
}

Result<Record> fromProto(const v1::Record& in) {
  switch (in.kind_case()) {
    case v1::Record::kSignal:
      return lift<Signal>(in.signal());
    case v1::Record::kCase:
      return lift<Case>(in.case_());
    case v1::Record::kContactMoment:
      return lift<ContactMoment>(in.contact_moment());
    case v1::Record::kTransition:
      return lift<Transition>(in.transition());
    case v1::Record::KIND_NOT_SET:
      break;
  }
  return Status(ErrorCode::kDecodeError,
                "record has no kind (signal, case, contact moment or "
                "transition)",
                "kind");
}

void toProto(const Category& in, v1::Category& out) {
  out.set_code(in.code);
  out.set_label(in.label);
  out.set_default_priority(static_cast<v1::Priority>(in.default_priority));
  out.set_first_contact_days(in.first_contact_days);
  out.set_sensitive(in.sensitive);
  out.set_first_gesprek_days(in.first_gesprek_days);
  out.set_working_days(in.working_days);
  out.set_min_attempts(in.min_attempts);
}

Result<Category> fromProto(const v1::Category& in) {
  Category c;
  c.code = in.code();
  c.label = in.label();
  EROPAF_RETURN_IF_ERROR(getEnum("default_priority", in.default_priority(), Priority::kLaag, false,
                                 c.default_priority));
  c.first_contact_days = in.first_contact_days();
  c.sensitive = in.sensitive();
  // Absent (a peer that predates the triage norms): the model's defaults stand.
  if (in.has_first_gesprek_days()) c.first_gesprek_days = in.first_gesprek_days();
  if (in.has_working_days()) c.working_days = in.working_days();
  if (in.has_min_attempts()) c.min_attempts = in.min_attempts();
  EROPAF_RETURN_IF_ERROR(norms::checkNorms(c));
  return c;
}

void toProto(const Worker& in, v1::Worker& out) {
  out.set_id(in.id);
  out.set_name(in.name);
  out.set_role(static_cast<v1::SourceRole>(in.role));
  for (const auto& w : in.wijken) out.add_wijken(w);
  out.set_active(in.active);
}

Result<Worker> fromProto(const v1::Worker& in) {
  Worker w;
  w.id = in.id();
  w.name = in.name();
  EROPAF_RETURN_IF_ERROR(getEnum("role", in.role(), Role::kAdmin, false, w.role));
  w.wijken.assign(in.wijken().begin(), in.wijken().end());
  w.active = in.active();
  return w;
}

}  // namespace eropaf::wire

namespace eropaf {

std::string encodeRecord(const Record& record) {
  v1::Record msg;
  wire::toProto(record, msg);
  return msg.SerializeAsString();
}

Result<Record> decodeRecord(std::string_view bytes) {
  v1::Record msg;
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX) ||
      !msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status(ErrorCode::kDecodeError, "bytes are not an eropaf.v1.Record");
  }
  return wire::fromProto(msg);
}

}  // namespace eropaf
