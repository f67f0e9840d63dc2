// Mapping between the model (eropaf/model.hpp) and the generated eropaf.v1 messages. Private to
// core and the server: the only place that includes generated code next to model types.
#pragma once

#include "eropaf/model.hpp"
#include "eropaf/status.hpp"
#include "eropaf/v1/records.pb.h"
#include "eropaf/v1/reference.pb.h"

namespace eropaf::wire {

void toProto(const Record& in, v1::Record& out);
/// One record kind, without wrapping it in a Record (the C ABI's lists).
void toProto(const Signal& in, v1::Signal& out);
void toProto(const Case& in, v1::Case& out);
void toProto(const ContactMoment& in, v1::ContactMoment& out);
void toProto(const Transition& in, v1::Transition& out);
/// Checks enum numbers; kDecodeError names the field of an unknown value.
Result<Record> fromProto(const v1::Record& in);

void toProto(const Version& in, v1::Version& out);
Version fromProto(const v1::Version& in);

void toProto(const Category& in, v1::Category& out);
Result<Category> fromProto(const v1::Category& in);
void toProto(const Worker& in, v1::Worker& out);
Result<Worker> fromProto(const v1::Worker& in);

}  // namespace eropaf::wire
