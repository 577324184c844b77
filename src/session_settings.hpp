// Session settings as part of what a count means. Fail safe: every setting
// counts (its value is in the key, and the worker restores it for each
// refresh) unless it is on an explicit list of PostgreSQL 15 settings known
// not to change the rows a SELECT returns (planner costs, resources,
// logging, timeouts, ...). A setting this code does not know — a newer
// PostgreSQL's, another extension's, a custom placeholder — therefore
// separates counts instead of silently sharing them.
#pragma once

extern "C" {
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/array.h"
}

namespace fast_count::session_settings {

// Appends "\nname=value" for every setting that can change a result and is
// not at its built-in default (a placeholder always), in the GUC table's
// (name) order. A setting at its default is left out so that a library
// loaded in one backend and not in another (plpgsql) does not split keys.
void append_key_text(StringInfo out);

// A 64-bit fingerprint of the current values of the result-changing
// settings that can change within this backend (user, superuser and sighup
// ones, and placeholders). Equal fingerprints mean equal append_key_text();
// cheap enough to be checked on every memo hit.
uint64 fingerprint();

// The result-changing session variables (user and superuser settings and
// placeholders) of this session, as text[] of "name=value" (search_path
// first), and just "name" for an extension's setting at its default.
ArrayType *capture();

// Applies what capture() returned (also the shorter lists of fast_count
// 0.2.0) in the current GUC nest level. A setting that cannot be applied
// raises an error: a count must not be taken under other settings than the
// ones it is stored for.
void apply(ArrayType *captured);

} // namespace fast_count::session_settings
