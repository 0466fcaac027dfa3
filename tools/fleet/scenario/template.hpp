#pragma once

// Template expansion of scenario strings: {{i}} the user's index, {{pop}} its
// population, {{n}} the user's push counter, {{rand}} a random number from the
// user's seeded generator, {{seed}} the run's seed.

#include <cstdint>
#include "scenario/rng.hpp"
#include <string>

#include <rapidjson/document.h>

namespace phx::fleet {

/// The values a template may name.
struct template_vars {
  uint64_t i = 0;
  uint64_t n = 0;
  uint64_t seed = 0;
  std::string pop;
};

/// Expands every `{{name}}` of `text`; unknown names stay as they are.
std::string expand(const std::string& text, const template_vars& vars, rng& gen);

/// True when `text` holds a `{{`: a value without one is shared, not copied.
bool has_template(const std::string& text) noexcept;

/// A copy of `value` whose strings (keys excluded) are expanded.
rapidjson::Document expand_json(const rapidjson::Value& value, const template_vars& vars,
                                rng& gen);

} // namespace phx::fleet
