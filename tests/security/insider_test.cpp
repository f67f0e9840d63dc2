// Adversarial insider tests: what an ordinary enrolled worker (no admin rights, no network
// position, a device and the documented protocol) tries in order to learn about households
// outside their work or to act on them. Every test runs the real eropaf-server on loopback
// and writes the attack as raw protobuf pushes and pulls, so the attacker chooses every id,
// field and version. Each asserts the property DESIGN's "Who sees what" promises.
#include <catch2/catch.hpp>
#include <thread>

#include "security/attack.hpp"

using namespace eropaf;
using namespace eropaf::test::attack;
using test::RemoteDevice;
using test::ServerProcess;

namespace {

constexpr const char* kWijk = "WK015301";
constexpr const char* kOtherWijk = "WK036301";

/// One wijk with its coordinator, two coaches and a home-care worker, plus a coach of another
/// wijk; the coordinator's device builds the cases the insiders go after.
struct Team {
  ServerProcess server;
  std::unique_ptr<RemoteDevice> co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  std::unique_ptr<RemoteDevice> anna = test::enrollDevice(server, "wc-anna", Role::kWijkcoach);
  std::unique_ptr<RemoteDevice> bram = test::enrollDevice(server, "wc-bram", Role::kWijkcoach);
  std::unique_ptr<RemoteDevice> zm = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  std::unique_ptr<RemoteDevice> far =
      test::enrollDevice(server, "wc-far", Role::kWijkcoach, kOtherWijk);

  /// The coordinator opens a case (it sits in the wijk's queue) and syncs.
  std::string openCase(const store::NewCase& nc) {
    auto c = co->db->openCase(nc);
    REQUIRE(c.ok());
    REQUIRE(co->sync().ok());
    return c->id;
  }
  void assign(const std::string& case_id, const std::string& worker) {
    REQUIRE(co->db->assignCase(case_id, worker).ok());
    REQUIRE(co->sync().ok());
  }
  /// The case as the server holds it (the coordinator sees it whole).
  Case onServer(const std::string& case_id) {
    auto r = recordIn(pullAll(*co), case_id);
    REQUIRE(r.has_value());
    REQUIRE(std::holds_alternative<Case>(*r));
    return std::get<Case>(*r);
  }
  std::string stateOnServer(const std::string& id) { return recordStateIn(pullAll(*co), id); }
};

Case caseDelta(const std::string& id) {
  Case c;
  c.id = id;
  return c;
}

Transition transition(const std::string& actor, Role role, const std::string& case_id,
                      CaseState from, CaseState to, Version created, std::string reason = "") {
  Transition t;
  t.id = newUuidV7(SystemClock().nowMs());
  t.created = created;
  t.case_id = case_id;
  t.from = from;
  t.to = to;
  t.actor_id = actor;
  t.actor_role = role;
  t.at_ms = std::max<std::int64_t>(1, hlcMillis(created.hlc));
  t.reason = std::move(reason);
  t.made_offline = true;
  return t;
}

ContactMoment contactMoment(RemoteDevice& d, const std::string& author,
                            const std::string& case_id) {
  ContactMoment m;
  m.id = newUuidV7(SystemClock().nowMs());
  m.created = freshVersion(d);
  m.case_id = case_id;
  m.author_id = author;
  m.at_ms = SystemClock().nowMs();
  m.kind = ContactKind::kHuisbezoek;
  m.outcome = ContactOutcome::kNietThuis;
  m.note = "even aangebeld";
  return m;
}

Signal signalBy(const std::string& reporter, Role role, Version created, const std::string& text) {
  Signal s;
  s.id = newUuidV7(SystemClock().nowMs());
  s.created = created;
  const Address a{"1234AB", "12", "", "Dorpsstraat", "Utrecht"};
  s.content = {reporter,
               role,
               kWijk,
               a,
               householdKey(a),
               {"overig"},
               Urgency::kLaag,
               SystemClock().nowMs(),
               text,
               Informed::kYes};
  s.triage_state.set(TriageState::kNieuw, created);
  return s;
}

/// A whole new case as a device would push it when opening one.
Case newCase(RemoteDevice& d, const std::string& opener, const Address& a) {
  const Version v = freshVersion(d);
  Case c;
  c.id = newUuidV7(SystemClock().nowMs());
  c.created = v;
  c.opened_by = opener;
  c.opened_at_ms = SystemClock().nowMs();
  c.wijk.set(kWijk, v);
  c.household_key.set(householdKey(a), v);
  c.address.set(a, v);
  c.title.set("Zelf geopend", v);
  c.categories["vereenzaming"] = SetEntry{true, v};
  c.state.set(CaseState::kNieuw, v);
  c.assignee.set("", v);
  c.priority.set(Priority::kNormaal, v);
  c.conflict.set(false, v);
  return c;
}

std::string unknownId() { return newUuidV7(SystemClock().nowMs()); }

std::string stateOf(const Case& c) { return std::string(toString(c.state.value)); }

std::string versionText(const Version& v) {
  return std::to_string(v.hlc) + "@" + std::to_string(v.node);
}

}  // namespace

// --- 1. equality oracle -------------------------------------------------------------------------

TEST_CASE("security: pushed guesses tell a coach nothing about a queue case or a colleague's case",
          "[security]") {
  Team w;
  const Address queue_addr{"3511AB", "7", "", "Dorpsstraat", "Utrecht"};  // as aCase() writes it
  const std::string queued =
      w.openCase(test::aCase("Schulden Lindelaan", {"schulden"}, "3511AB", "7"));
  const std::string colleagues =
      w.openCase(test::aCase("Eenzaam Beukenlaan", {"vereenzaming"}, "3512CD", "9"));
  w.assign(colleagues, "wc-bram");
  const std::string queued_before = w.stateOnServer(queued);
  const std::string colleagues_before = w.stateOnServer(colleagues);
  REQUIRE(w.anna->sync().ok());  // anna sees the queue case, redacted

  for (RemoteDevice* coach : {w.anna.get(), w.far.get()}) {
    const bool own_wijk = coach == w.anna.get();
    const std::string who = own_wijk ? "wc-anna (same wijk)" : "wc-far (another wijk)";
    // The queue case's redacted fields: household key (= the address), address, title.
    std::vector<Guess> key, addr, title;
    for (const std::string number : {"7", "8", "9", "70"}) {
      Case k = caseDelta(queued);
      k.household_key.set("3511AB|" + number + "|", freshVersion(*coach));
      key.push_back(
          {(number == "7" ? "true key 3511AB|7|" : "wrong key 3511AB|" + number + "|"), k});
      Case a = caseDelta(queued);
      Address guess = queue_addr;
      guess.house_number = number;
      a.address.set(guess, freshVersion(*coach));
      addr.push_back({(number == "7" ? "true address" : "wrong address nr " + number), a});
    }
    for (const std::string t : {"Schulden Lindelaan", "Huur achterstand"}) {
      Case c = caseDelta(queued);
      c.title.set(t, freshVersion(*coach));
      title.push_back({(t == "Schulden Lindelaan" ? "true title" : "wrong title"), c});
    }
    if (!own_wijk) {
      // Another wijk's coach may not see the case at all: the unknown-id answer, too.
      Case k = caseDelta(unknownId());
      k.household_key.set("3511AB|7|", freshVersion(*coach));
      key.push_back({"the same key on an unknown id", k});
    }
    expectOneAnswerForEveryGuess(*coach, who + " guessing the queue case's household key", key);
    expectOneAnswerForEveryGuess(*coach, who + " guessing the queue case's address", addr);
    expectOneAnswerForEveryGuess(*coach, who + " guessing the queue case's title", title);

    // The colleague's case: assignee, categories, state, title; plus the unknown-id answer.
    std::vector<Guess> assignee, cats, state, ctitle;
    for (const std::string a : {"wc-bram", "wc-cees", "co-jan"}) {
      Case c = caseDelta(colleagues);
      c.assignee.set(a, freshVersion(*coach));
      assignee.push_back({(a == "wc-bram" ? "true assignee wc-bram" : "wrong assignee " + a), c});
    }
    for (const std::string code : {"vereenzaming", "schulden", "overlast"}) {
      Case c = caseDelta(colleagues);
      c.categories[code] = SetEntry{true, freshVersion(*coach)};
      cats.push_back({(code == "vereenzaming" ? "true category " : "wrong category ") + code, c});
    }
    for (const CaseState s : {CaseState::kToegewezen, CaseState::kNieuw, CaseState::kWacht}) {
      Case c = caseDelta(colleagues);
      c.state.set(s, freshVersion(*coach));
      state.push_back({(s == CaseState::kToegewezen ? "true state " : "wrong state ") +
                           std::string(toString(s)),
                       c});
    }
    for (const std::string t : {"Eenzaam Beukenlaan", "Iets anders"}) {
      Case c = caseDelta(colleagues);
      c.title.set(t, freshVersion(*coach));
      ctitle.push_back({(t == "Eenzaam Beukenlaan" ? "true title" : "wrong title"), c});
    }
    for (std::vector<Guess>* g : {&assignee, &cats, &state, &ctitle}) {
      Case u = std::get<Case>(g->front().record);
      u.id = unknownId();
      g->push_back({"the true value on an unknown id", u});
    }
    expectOneAnswerForEveryGuess(*coach, who + " guessing a colleague's case's assignee", assignee);
    expectOneAnswerForEveryGuess(*coach, who + " guessing a colleague's case's categories", cats);
    expectOneAnswerForEveryGuess(*coach, who + " guessing a colleague's case's state", state);
    expectOneAnswerForEveryGuess(*coach, who + " guessing a colleague's case's title", ctitle);
  }

  // A home-care worker probing the colleague's case's state: transitions from each state, and
  // state deltas, on the real case and on an unknown one.
  std::vector<Guess> moves, deltas;
  const std::pair<CaseState, CaseState> tries[] = {
      {CaseState::kNieuw, CaseState::kToegewezen},
      {CaseState::kToegewezen, CaseState::kContactZoeken},
      {CaseState::kContactZoeken, CaseState::kInBehandeling},
      {CaseState::kInBehandeling, CaseState::kNazorg}};
  for (const auto& [from, to] : tries) {
    const std::string label =
        "move " + std::string(toString(from)) + " -> " + std::string(toString(to));
    moves.push_back(
        {label + " on the case", transition("zm-fatima", Role::kZorgmedewerker, colleagues, from,
                                            to, freshVersion(*w.zm), "even kijken")});
    moves.push_back(
        {label + " on an unknown case", transition("zm-fatima", Role::kZorgmedewerker, unknownId(),
                                                   from, to, freshVersion(*w.zm), "even kijken")});
  }
  for (const CaseState s : {CaseState::kToegewezen, CaseState::kNieuw}) {
    Case c = caseDelta(colleagues);
    c.state.set(s, freshVersion(*w.zm));
    deltas.push_back(
        {(s == CaseState::kToegewezen ? "true state " : "wrong state ") + std::string(toString(s)),
         c});
  }
  Case u = caseDelta(unknownId());
  u.state.set(CaseState::kToegewezen, freshVersion(*w.zm));
  deltas.push_back({"the true state on an unknown id", u});
  expectOneAnswerForEveryGuess(*w.zm, "zm-fatima probing the case's state with transitions", moves);
  expectOneAnswerForEveryGuess(*w.zm, "zm-fatima probing the case's state with deltas", deltas);

  // Nothing of all that was applied: both cases are byte for byte what they were.
  CHECK(w.stateOnServer(queued) == queued_before);
  CHECK(w.stateOnServer(colleagues) == colleagues_before);
}

// --- 2. existence oracle ------------------------------------------------------------------------

TEST_CASE("security: out-of-scope and unknown and wrong-kind ids are refused with the same bytes",
          "[security]") {
  Team w;
  const std::string colleagues = w.openCase(test::aCase("Dossier van Bram"));
  w.assign(colleagues, "wc-bram");
  REQUIRE(w.bram->sync().ok());
  auto bram_moment = w.bram->db->addContactMoment(
      {colleagues, ContactKind::kTelefoon, ContactOutcome::kGesprek, "gebeld", std::nullopt, ""});
  REQUIRE(bram_moment.ok());
  REQUIRE(w.bram->sync().ok());
  const std::string colleagues_before = w.stateOnServer(colleagues);
  const std::string unknown = unknownId();
  const std::string moment_id = bram_moment->id;  // another kind of record

  for (RemoteDevice* coach : {w.anna.get(), w.far.get()}) {
    const std::string who = coach == w.anna.get() ? "wc-anna" : "wc-far";
    const std::pair<const char*, std::string> targets[] = {{"a colleague's case", colleagues},
                                                           {"an unknown id", unknown},
                                                           {"a contact moment's id", moment_id}};
    std::vector<Guess> titles, moments, moves;
    for (const auto& [label, id] : targets) {
      Case c = caseDelta(id);
      c.title.set("Overgenomen", freshVersion(*coach));
      titles.push_back({std::string("title on ") + label, c});
      moments.push_back(
          {std::string("contact moment on ") + label, contactMoment(*coach, who, id)});
      moves.push_back({std::string("move on ") + label,
                       transition(who, Role::kWijkcoach, id, CaseState::kToegewezen,
                                  CaseState::kContactZoeken, freshVersion(*coach))});
    }
    expectOneAnswerForEveryGuess(*coach, who + " writing a case title", titles);
    expectOneAnswerForEveryGuess(*coach, who + " recording a contact moment", moments);
    expectOneAnswerForEveryGuess(*coach, who + " moving a case", moves);
  }
  // None of it reached the colleague's case (no contact moment, no conflict, no title).
  CHECK(w.stateOnServer(colleagues) == colleagues_before);
  const Pulled co_view = pullAll(*w.co);
  std::size_t moments_on_case = 0;
  for (const v1::Record& r : co_view.pages.records()) {
    if (r.has_contact_moment() && r.contact_moment().case_id() == colleagues) ++moments_on_case;
  }
  CHECK(moments_on_case == 1);  // bram's own, nothing from the insiders
}

// --- 3. no-op deltas ----------------------------------------------------------------------------

TEST_CASE(
    "security: an empty delta on someone else's contact moment is refused as unknown and leaves no "
    "trace",
    "[security]") {
  Team w;
  const std::string c = w.openCase(test::aCase());
  w.assign(c, "wc-bram");
  REQUIRE(w.bram->sync().ok());
  auto m = w.bram->db->addContactMoment(
      {c, ContactKind::kHuisbezoek, ContactOutcome::kGesprek, "koffie gehad", std::nullopt, ""});
  REQUIRE(m.ok());
  REQUIRE(w.bram->sync().ok());
  const Pulled co_now = pullAll(*w.co);
  REQUIRE(mentions(co_now, m->id));

  ContactMoment empty;
  empty.id = m->id;
  ContactMoment empty_unknown;
  empty_unknown.id = unknownId();
  ContactMoment stale = empty;  // a "no-op" with a version far below anything on the server
  stale.deleted.set(false, {1, w.zm->db->node()});
  expectOneAnswerForEveryGuess(*w.zm, "zm-fatima sending no-op deltas on bram's contact moment",
                               {{"empty delta on the moment", empty},
                                {"stale deleted=false on the moment", stale},
                                {"empty delta on an unknown id", empty_unknown}});
  emptyPush(*w.co);  // today's server writes audit entries with the next commit

  const auto logged = accessLinesWith(w.server, "zm-fatima", m->id);
  std::string lines;
  for (const auto& l : logged) lines += "\n  " + l;
  INFO("access-log lines naming zm-fatima and the moment:" << lines);
  CHECK(logged.empty());
  const Pulled again = pullAll(*w.co, co_now.cursor);
  INFO("the coordinator's next pull re-sends the moment the home-care worker touched");
  CHECK_FALSE(mentions(again, m->id));
}

// --- 4. evictions and link ids ------------------------------------------------------------------

TEST_CASE("security: a coach's first pull names no case he never held", "[security]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto bram = test::enrollDevice(server, "wc-bram", Role::kWijkcoach);
  auto assigned = co->db->openCase(test::aCase("Naar Bram", {"schulden"}, "1111AA", "1"));
  auto cancelled = co->db->openCase(test::aCase("Geannuleerd", {"overlast"}, "2222BB", "2"));
  auto queued = co->db->openCase(test::aCase("Nog in de rij", {"vereenzaming"}, "3333CC", "3"));
  REQUIRE((assigned.ok() && cancelled.ok() && queued.ok()));
  REQUIRE(co->sync().ok());  // all three sat in the wijk's queue
  REQUIRE(co->db->assignCase(assigned->id, "wc-bram").ok());
  REQUIRE(co->db->moveCase({cancelled->id, CaseState::kGeannuleerd, "dubbel gemeld", true}).ok());
  REQUIRE(co->sync().ok());

  auto anna = test::enrollDevice(server, "wc-anna", Role::kWijkcoach);  // enrolled afterwards
  const Pulled first = pullAll(*anna);
  REQUIRE(first.status == 200);
  REQUIRE(mentions(first, queued->id));  // the queue works: she sees the open case
  INFO("evictions in the first pull: " << evictionsOf(first));
  CHECK(first.pages.evictions_size() == 0);
  CHECK_FALSE(mentions(first, assigned->id));
  CHECK_FALSE(mentions(first, cancelled->id));
}

TEST_CASE("security: a pull after an offline period names no case that came and went meanwhile",
          "[security]") {
  Team w;
  const Pulled before = pullAll(*w.anna);
  REQUIRE(before.status == 200);
  // While anna is offline: one case enters the queue and is assigned to bram, another enters
  // and is cancelled.
  const std::string to_bram = w.openCase(test::aCase("Kwam en ging", {"schulden"}, "4444DD", "4"));
  w.assign(to_bram, "wc-bram");
  const std::string gone = w.openCase(test::aCase("Ingetrokken", {"overlast"}, "5555EE", "5"));
  REQUIRE(w.co->db->moveCase({gone, CaseState::kGeannuleerd, "vergissing", true}).ok());
  REQUIRE(w.co->sync().ok());

  const Pulled back = pullAll(*w.anna, before.cursor);
  REQUIRE(back.status == 200);
  INFO("evictions after the offline period: " << evictionsOf(back));
  CHECK(back.pages.evictions_size() == 0);
  CHECK_FALSE(mentions(back, to_bram));
  CHECK_FALSE(mentions(back, gone));
}

TEST_CASE("security: a coach's own signals arrive without link ids into other people's work",
          "[security]") {
  Team w;
  const std::string bram_case = w.openCase(test::aCase("Bram's dossier"));
  w.assign(bram_case, "wc-bram");
  auto linked = w.anna->db->createSignal(test::aSignal("Gezien bij de buren", "1234AB", "14"));
  auto dup = w.anna->db->createSignal(test::aSignal("Nog eens gezien", "1234AB", "14"));
  auto original = w.zm->db->createSignal(test::aSignal("Eerste melding", "1234AB", "14"));
  REQUIRE((linked.ok() && dup.ok() && original.ok()));
  REQUIRE(w.anna->sync().ok());
  REQUIRE(w.zm->sync().ok());
  REQUIRE(w.co->sync().ok());
  const Pulled before = pullAll(*w.anna);

  REQUIRE(w.co->db->linkSignal(linked->id, bram_case, {true, "buren, zelfde zorg"}).ok());
  REQUIRE(w.co->sync().ok());
  Signal mark;  // the coordinator marks anna's second signal a duplicate of zm's
  mark.id = dup->id;
  mark.triage_state.set(TriageState::kDuplicaat, freshVersion(*w.co));
  mark.duplicate_of.set(original->id, freshVersion(*w.co));
  REQUIRE(push(*w.co, {mark}).body.results(0).accepted());

  for (const Pulled& p : {pullAll(*w.anna), pullAll(*w.anna, before.cursor)}) {
    REQUIRE(p.status == 200);
    auto l = recordIn(p, linked->id);
    auto d = recordIn(p, dup->id);
    REQUIRE(l.has_value());  // her own signals still reach her
    REQUIRE(d.has_value());
    INFO("case_id on her linked signal: '" << std::get<Signal>(*l).case_id.value << "'");
    CHECK(std::get<Signal>(*l).case_id.value.empty());
    INFO("duplicate_of on her duplicate: '" << std::get<Signal>(*d).duplicate_of.value << "'");
    CHECK(std::get<Signal>(*d).duplicate_of.value.empty());
    CHECK_FALSE(mentions(p, bram_case));
    CHECK_FALSE(mentions(p, original->id));
  }
}

// --- 5. versions the device chose ---------------------------------------------------------------

TEST_CASE("security: a backdated move of a colleague's case is never applied", "[security]") {
  Team w;
  const std::string case_1970 = w.openCase(test::aCase("Bram 1"));
  const std::string case_below = w.openCase(test::aCase("Bram 2"));
  w.assign(case_1970, "wc-bram");
  w.assign(case_below, "wc-bram");
  const Case below = w.onServer(case_below);
  REQUIRE(stateOf(below) == "toegewezen");

  // Never the assignee: a move stamped 1970, and one stamped just below the assignment.
  const std::uint64_t node = w.anna->db->node();
  const Version in_1970{hlcPack(86'400'000, 0), node};
  const Version just_below{below.assignee.version.hlc - 1, node};
  auto a =
      push(*w.anna, {transition("wc-anna", Role::kWijkcoach, case_1970, CaseState::kToegewezen,
                                CaseState::kContactZoeken, in_1970),
                     transition("wc-anna", Role::kWijkcoach, case_below, CaseState::kToegewezen,
                                CaseState::kContactZoeken, just_below)});
  INFO("answers: " << a.body.ShortDebugString());
  CHECK(stateOf(w.onServer(case_1970)) == "toegewezen");   // not moved by the 1970 stamp
  CHECK(stateOf(w.onServer(case_below)) == "toegewezen");  // nor by one below the assignment

  // A former assignee whose device has already been told of the reassignment.
  const std::string was_annas = w.openCase(test::aCase("Eerst Anna"));
  w.assign(was_annas, "wc-anna");
  REQUIRE(w.anna->sync().ok());
  w.assign(was_annas, "wc-bram");
  REQUIRE(w.anna->sync().ok());  // the eviction reached her device
  const Case reassigned = w.onServer(was_annas);
  auto b = push(*w.anna, {transition("wc-anna", Role::kWijkcoach, was_annas, CaseState::kToegewezen,
                                     CaseState::kContactZoeken,
                                     {reassigned.assignee.version.hlc - 1, node})});
  INFO("answer: " << b.body.ShortDebugString());
  CHECK(stateOf(w.onServer(was_annas)) == "toegewezen");
}

TEST_CASE("security: a backdated title write on a colleague's case is never applied",
          "[security]") {
  Team w;
  const std::string never = w.openCase(test::aCase("Titel van Bram"));
  w.assign(never, "wc-bram");
  const std::string was_annas = w.openCase(test::aCase("Titel van Anna"));
  w.assign(was_annas, "wc-anna");
  REQUIRE(w.anna->sync().ok());
  w.assign(was_annas, "wc-bram");
  REQUIRE(w.anna->sync().ok());

  for (const std::string& id : {never, was_annas}) {
    const Case cur = w.onServer(id);
    const Version just_below{cur.assignee.version.hlc - 1, w.anna->db->node()};
    REQUIRE(cur.title.version < just_below);  // the write would win the merge
    Case rename = caseDelta(id);
    rename.title.set("Hernoemd door Anna", just_below);
    auto a = push(*w.anna, {rename});
    INFO("answer: " << a.body.ShortDebugString());
    CHECK(w.onServer(id).title.value == cur.title.value);
  }
}

TEST_CASE("security: a case's creation facts cannot be rewritten", "[security]") {
  Team w;
  const std::string id = w.openCase(test::aCase());
  const Case orig = w.onServer(id);
  const std::pair<RemoteDevice*, std::string> writers[] = {
      {w.far.get(), "wc-far"}, {w.anna.get(), "wc-anna"}, {w.co.get(), "co-jan"}};
  for (const auto& [dev, name] : writers) {
    Case rewrite = caseDelta(id);
    rewrite.created = freshVersion(*dev);
    rewrite.opened_by = name == "co-jan" ? "wc-bram" : name;
    rewrite.opened_at_ms = 86'400'000;
    auto a = push(*dev, {rewrite});
    INFO(name << " rewrote opened_by/opened_at_ms: " << a.body.ShortDebugString());
    CHECK_FALSE(a.body.results(0).accepted());
    const Case now = w.onServer(id);
    CHECK(now.opened_by == orig.opened_by);
    CHECK(now.opened_at_ms == orig.opened_at_ms);
    CHECK(versionText(now.created) == versionText(orig.created));
  }
}

TEST_CASE("security: a coach cannot open a case carrying coordinator-only fields", "[security]") {
  Team w;
  const std::string other = w.openCase(test::aCase());
  const Address a{"3511AB", "7", "", "Lindelaan", "Utrecht"};
  Case plain = newCase(*w.anna, "wc-anna", a);
  Case conflict = newCase(*w.anna, "wc-anna", a);
  conflict.conflict.set(true, conflict.created);
  Case resolved = newCase(*w.anna, "wc-anna", a);
  resolved.resolution_code.set("opgelost", resolved.created);
  resolved.resolution_text.set("al geregeld", resolved.created);
  Case merged = newCase(*w.anna, "wc-anna", a);
  merged.merged_into.set(other, merged.created);
  Case wrong_key = newCase(*w.anna, "wc-anna", a);
  wrong_key.household_key.set("9999ZZ|1|", wrong_key.created);  // not the address's key

  auto ans = push(*w.anna, {plain, conflict, resolved, merged, wrong_key});
  INFO("answers: " << ans.body.ShortDebugString());
  REQUIRE(ans.body.results(0).accepted());  // control: a plain case of her wijk is fine
  const char* what[] = {"", "conflict flag", "resolution code and text", "merged_into",
                        "a household key that is not the address's"};
  const Pulled co_view = pullAll(*w.co);
  for (int i = 1; i < 5; ++i) {
    INFO("a coach's new case with " << what[i]);
    CHECK_FALSE(ans.body.results(i).accepted());
  }
  CHECK_FALSE(mentions(co_view, conflict.id));
  CHECK_FALSE(mentions(co_view, resolved.id));
  CHECK_FALSE(mentions(co_view, merged.id));
  CHECK_FALSE(mentions(co_view, wrong_key.id));
}

// --- 6. assignment ------------------------------------------------------------------------------

TEST_CASE("security: a coordinator assigns only to an active coach or coordinator of the wijk",
          "[security]") {
  Team w;
  const auto gone = test::enrollDevice(w.server, "wc-gone", Role::kWijkcoach);
  // No admin command deactivates a worker yet: do what one would, in the database, and bump
  // the reference version as every admin change does.
  execSql(databaseOf(w.server),
          "UPDATE workers SET active = 0 WHERE id = 'wc-gone';"
          "UPDATE meta SET value = "
          "CAST(CAST(CAST(CAST(value AS TEXT) AS INTEGER) + 1 AS TEXT) AS BLOB) "
          "WHERE key = 'reference_version'");
  const std::pair<std::string, RemoteDevice*> targets[] = {{"wc-far", w.far.get()},
                                                           {"zm-fatima", w.zm.get()},
                                                           {"wc-gone", nullptr},
                                                           {"nobody-here", nullptr}};
  for (const auto& [assignee, dev] : targets) {
    const std::string id = w.openCase(test::aCase("Voor " + assignee));
    Case delta = caseDelta(id);
    delta.assignee.set(assignee, freshVersion(*w.co));
    auto a = push(*w.co, {delta});
    INFO("assigning to " << assignee << ": " << a.body.ShortDebugString());
    CHECK_FALSE(a.body.results(0).accepted());
    CHECK(w.onServer(id).assignee.value.empty());
    if (dev != nullptr) {
      const Pulled p = pullAll(*dev);
      CHECK_FALSE(mentions(p, id));  // the would-be assignee receives nothing of it
    }
  }
}

// --- 7. revocation in flight --------------------------------------------------------------------

TEST_CASE("security: an open long poll of a device revoked meanwhile gets 403 and no record",
          "[security]") {
  Team w;
  const Pulled caught_up = pullAll(*w.anna);
  REQUIRE(caught_up.status == 200);
  v1::PullRequest req;
  req.set_cursor(caught_up.cursor);
  req.set_wait_ms(5000);
  sync::HttpRequest http;
  http.path = "/v1/pull";
  http.bearer_token = tokenOf(*w.anna);
  http.body = req.SerializeAsString();
  std::optional<Result<sync::HttpResponse>> sent;  // no Catch2 assertion off the main thread
  std::thread poll([&] { sent = w.anna->transport->send(http); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the poll is waiting
  REQUIRE(w.server.admin({"revoke", deviceIdOf(*w.anna)}).exit_code == 0);
  const std::string after = w.openCase(test::aCase("Na de intrekking", {"schulden"}));
  poll.join();
  REQUIRE((sent.has_value() && sent->ok()));
  const sync::HttpResponse answer = **sent;
  INFO("the revoked device's long poll answered HTTP " << answer.status);
  CHECK(answer.status == 403);
  if (answer.status != 200) {
    v1::ErrorResponse e;
    REQUIRE(e.ParseFromString(answer.body));
    CHECK(e.error().code() == v1::ERROR_CODE_DEVICE_REVOKED);
  }
  INFO("the long poll delivered the case opened after the revocation");
  CHECK(answer.body.find(after) == std::string::npos);
}

// --- 8. clocks ----------------------------------------------------------------------------------

TEST_CASE("security: far-future versions from one worker do not stop a device 3 s behind",
          "[security]") {
  Team w;
  auto lag = test::enrollDevice(w.server, "co-lag", Role::kCoordinator);
  reopenWithClock(*lag, "co-lag", std::make_shared<OffsetClock>(-3000));
  REQUIRE(lag->sync().ok());

  // The attacker finds the furthest future the server still accepts.
  std::int64_t lead = 0;
  for (const std::int64_t try_ms : {299'000, 240'000, 120'000, 60'000, 30'000, 10'000}) {
    const Version v{hlcPack(SystemClock().nowMs() + try_ms, 0), w.zm->db->node()};
    if (push(*w.zm, {signalBy("zm-fatima", Role::kZorgmedewerker, v, "uit de toekomst")})
            .body.results(0)
            .accepted()) {
      lead = try_ms;
      break;
    }
  }
  INFO("the server accepted versions " << lead << " ms ahead");
  REQUIRE(lead > 0);

  std::vector<std::string> lag_signals;
  int failed = 0, rounds = 0;
  std::string first_failure;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto next_attack = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < end) {
    if (std::chrono::steady_clock::now() >= next_attack) {
      const Version v{hlcPack(SystemClock().nowMs() + lead, 0), w.zm->db->node()};
      static_cast<void>(
          push(*w.zm, {signalBy("zm-fatima", Role::kZorgmedewerker, v, "weer later")}));
      next_attack += std::chrono::seconds(1);
    }
    auto s = lag->db->createSignal(test::aSignal("gewoon werk " + std::to_string(rounds)));
    REQUIRE(s.ok());
    lag_signals.push_back(s->id);
    auto r = lag->sync();
    ++rounds;
    if (!r.ok()) {
      ++failed;
      if (first_failure.empty()) first_failure = r.status().toString();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  INFO(failed << " of " << rounds << " syncs failed; the first: " << first_failure);
  CHECK(failed == 0);
  const Pulled server_view = pullAll(*w.co);
  std::size_t arrived = 0;
  for (const auto& id : lag_signals)
    if (mentions(server_view, id)) ++arrived;
  CHECK(arrived == lag_signals.size());  // the lagging device's own work reached the server
}

// --- 9. audit ---------------------------------------------------------------------------------

TEST_CASE("security: the access-log entry of a pull survives a kill -9 right after the page",
          "[security]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto zm = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  auto s = zm->db->createSignal(test::aSignal("Gelezen en dan de stekker eruit"));
  REQUIRE(s.ok());
  REQUIRE(zm->sync().ok());
  const Pulled page = pullAll(*co);
  REQUIRE(mentions(page, s->id));  // the coordinator has read the signal
  server.kill9();
  server.restart();
  const auto lines = accessLinesWith(server, "pull:", s->id);
  INFO("access-log lines for the pulled signal after the kill: " << lines.size());
  REQUIRE_FALSE(lines.empty());
  CHECK(lines[0].find("co-jan") != std::string::npos);
}

// --- 10. change ids ---------------------------------------------------------------------------

TEST_CASE("security: a change under another device's change id is applied as its own or refused",
          "[security]") {
  ServerProcess server;
  auto co = test::enrollDevice(server, "co-jan", Role::kCoordinator);
  auto a = test::enrollDevice(server, "zm-fatima", Role::kZorgmedewerker);
  auto b = test::enrollDevice(server, "zm-other", Role::kZorgmedewerker);
  const std::string change_id = newUuidV7(SystemClock().nowMs());
  const Signal sa = signalBy("zm-fatima", Role::kZorgmedewerker, freshVersion(*a), "van A");
  REQUIRE(push(*a, {sa}, {change_id}).body.results(0).accepted());
  const Signal sb = signalBy("zm-other", Role::kZorgmedewerker, freshVersion(*b), "van B");
  const auto answer = push(*b, {sb}, {change_id});
  const Pulled view = pullAll(*co);
  REQUIRE(mentions(view, sa.id));
  const bool accepted = answer.body.results(0).accepted();
  INFO("B's change was answered " << answer.body.results(0).ShortDebugString()
                                  << "; B's signal on the server: " << mentions(view, sb.id));
  CHECK((!accepted || mentions(view, sb.id)));  // never "accepted" with nothing stored
}

// --- 11. addresses at rest ----------------------------------------------------------------------

TEST_CASE("security: the server database holds addresses only in the records' bodies",
          "[security]") {
  Team w;
  store::NewSignal ns = test::aSignal("Zorg om de bewoner", "9876ZX", "4321");
  ns.address.addition = "bis";
  ns.address.street = "Zwanenbloemstraat";
  auto s = w.zm->db->createSignal(ns);
  REQUIRE(s.ok());
  REQUIRE(w.zm->sync().ok());
  REQUIRE(w.co->sync().ok());
  store::NewCase nc = test::aCase("Zwanenbloem", {"vereenzaming"}, "9876ZX", "4321");
  nc.address = ns.address;
  nc.signal_ids = {s->id};
  auto c = w.co->db->openCase(nc);
  REQUIRE(c.ok());
  REQUIRE(w.co->sync().ok());
  REQUIRE(mentions(pullAll(*w.co), "Zwanenbloemstraat"));  // the coordinator reads it
  emptyPush(*w.co);  // today's server writes audit entries with the next commit
  w.server.kill9();  // the WAL stays as it is

  const std::filesystem::path db = databaseOf(w.server);
  const std::string key = householdKey(ns.address);  // "9876ZX|4321|bis": an address
  const std::string needles[] = {"Zwanenbloemstraat", "9876ZX", key};
  // The raw bytes first: opening the database below checkpoints the WAL into it.
  std::map<std::string, std::string> raw;
  for (const std::string& needle : needles) {
    raw[needle] = std::to_string(occurrencesInFile(db, needle)) + "x in server.db, " +
                  std::to_string(occurrencesInFile(db.string() + "-wal", needle)) +
                  "x in server.db-wal";
  }
  for (const std::string& needle : needles) {
    const std::set<std::string> cols = columnsContaining(db, needle);
    std::string where;
    for (const auto& col : cols) where += " " + col;
    INFO("'" << needle << "': " << raw[needle] << "; in the columns" << where);
    std::set<std::string> outside = cols;
    outside.erase("records.body");  // the one place the design allows it (sealed later)
    std::string leaked;
    for (const auto& col : outside) leaked += " " + col;
    CHECK(leaked == "");
  }
}

// --- 12. review: links, corrections and holds --------------------------

TEST_CASE("security: a contact moment corrects only a moment of its own case", "[security]") {
  Team w;
  const std::string bram_case = w.openCase(test::aCase("Dossier van Bram"));
  const std::string anna_case = w.openCase(test::aCase("Dossier van Anna"));
  w.assign(bram_case, "wc-bram");
  w.assign(anna_case, "wc-anna");
  REQUIRE(w.bram->sync().ok());
  REQUIRE(w.anna->sync().ok());
  auto bram_moment = w.bram->db->addContactMoment(
      {bram_case, ContactKind::kTelefoon, ContactOutcome::kGesprek, "gebeld", std::nullopt, ""});
  auto anna_moment = w.anna->db->addContactMoment(
      {anna_case, ContactKind::kTelefoon, ContactOutcome::kGesprek, "gebeld", std::nullopt, ""});
  REQUIRE((bram_moment.ok() && anna_moment.ok()));
  REQUIRE(w.bram->sync().ok());
  REQUIRE(w.anna->sync().ok());

  ContactMoment own = contactMoment(*w.anna, "wc-anna", anna_case);
  own.corrects_id = anna_moment->id;  // control: a correction of her own moment
  REQUIRE(push(*w.anna, {own}).body.results(0).accepted());

  std::vector<Guess> corrections;
  const std::pair<const char*, std::string> targets[] = {
      {"a moment of a colleague's case", bram_moment->id}, {"an unknown id", unknownId()}};
  for (const auto& [label, id] : targets) {
    ContactMoment m = contactMoment(*w.anna, "wc-anna", anna_case);
    m.corrects_id = id;
    corrections.push_back({std::string("correcting ") + label, m});
  }
  expectOneAnswerForEveryGuess(*w.anna, "wc-anna correcting moments outside her case", corrections);
}

TEST_CASE("security: a coordinator merges only into a case of her wijken", "[security]") {
  Team w;
  auto co_far = test::enrollDevice(w.server, "co-far", Role::kCoordinator, kOtherWijk);
  store::NewCase far_case = test::aCase("Elders");
  far_case.wijk = kOtherWijk;
  auto elsewhere = co_far->db->openCase(far_case);
  REQUIRE(elsewhere.ok());
  REQUIRE(co_far->sync().ok());
  const std::string mine = w.openCase(test::aCase("Hier"));

  std::vector<Guess> merges;
  const std::pair<const char*, std::string> targets[] = {{"a case of another wijk", elsewhere->id},
                                                         {"an unknown id", unknownId()}};
  for (const auto& [label, id] : targets) {
    Case d = caseDelta(mine);
    d.merged_into.set(id, freshVersion(*w.co));
    merges.push_back({std::string("merge into ") + label, d});
  }
  expectOneAnswerForEveryGuess(*w.co, "co-jan merging outside her wijk", merges);
  CHECK(w.onServer(mine).merged_into.value.empty());
}
TEST_CASE("security: a coach cannot take her signal out of a colleague's case", "[security]") {
  Team w;
  const std::string bram_case = w.openCase(test::aCase("Dossier van Bram"));
  const std::string anna_case = w.openCase(test::aCase("Dossier van Anna"));
  w.assign(bram_case, "wc-bram");
  w.assign(anna_case, "wc-anna");
  auto sig = w.anna->db->createSignal(test::aSignal("Gezien bij de buren", "1234AB", "14"));
  REQUIRE(sig.ok());
  REQUIRE(w.anna->sync().ok());
  REQUIRE(w.co->sync().ok());
  // The coordinator's triage (the neighbours' signal, on purpose).
  REQUIRE(w.co->db->linkSignal(sig->id, bram_case, {true, "buren, zelfde zorg"}).ok());
  REQUIRE(w.co->sync().ok());

  Signal relink;
  relink.id = sig->id;
  relink.case_id.set(anna_case, freshVersion(*w.anna));
  relink.triage_state.set(TriageState::kGekoppeld, freshVersion(*w.anna));
  auto a = push(*w.anna, {relink});
  INFO("answer: " << a.body.ShortDebugString());
  auto on_server = recordIn(pullAll(*w.co), sig->id);
  REQUIRE(on_server.has_value());
  CHECK(std::get<Signal>(*on_server).case_id.value == bram_case);
}

TEST_CASE("security: a coach who never saw a case cannot claim an offline pick up of it",
          "[security]") {
  Team w;
  // The case sat in the wijk's queue before it went to bram; anna's device never pulled it.
  const std::string colleagues = w.openCase(test::aCase("Ooit in de rij", {"schulden"}));
  w.assign(colleagues, "wc-bram");
  REQUIRE(w.bram->sync().ok());
  const std::string before = w.stateOnServer(colleagues);

  const std::pair<const char*, std::string> targets[] = {{"a colleague's case", colleagues},
                                                         {"an unknown id", unknownId()}};
  std::vector<Guess> pickups;
  for (const auto& [label, id] : targets) {
    pickups.push_back({std::string("pick up of ") + label,
                       transition("wc-anna", Role::kWijkcoach, id, CaseState::kNieuw,
                                  CaseState::kToegewezen, freshVersion(*w.anna))});
  }
  expectOneAnswerForEveryGuess(*w.anna, "wc-anna claiming a pick up", pickups);
  // Nor does a claimed pick up make her a former holder whose notes are kept.
  auto note = push(*w.anna, {contactMoment(*w.anna, "wc-anna", colleagues)});
  INFO("her contact moment afterwards: " << note.body.ShortDebugString());
  CHECK_FALSE(note.body.results(0).accepted());
  CHECK(w.stateOnServer(colleagues) == before);  // no conflict flag, no re-stamped state
}
