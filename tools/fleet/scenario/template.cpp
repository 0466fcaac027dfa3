#include "scenario/template.hpp"

namespace phx::fleet {

namespace {

void expand_into(rapidjson::Value& out, const rapidjson::Value& in, const template_vars& vars,
                 rng& gen, rapidjson::Document::AllocatorType& alloc) {
  if (in.IsString()) {
    std::string s{in.GetString(), in.GetStringLength()};
    if (has_template(s)) {
      auto e = expand(s, vars, gen);
      out.SetString(e.data(), static_cast<rapidjson::SizeType>(e.size()), alloc);
    } else {
      out.CopyFrom(in, alloc);
    }
  } else if (in.IsObject()) {
    out.SetObject();
    for (auto it = in.MemberBegin(); it != in.MemberEnd(); ++it) {
      rapidjson::Value k{it->name, alloc};
      rapidjson::Value v;
      expand_into(v, it->value, vars, gen, alloc);
      out.AddMember(k, v, alloc);
    }
  } else if (in.IsArray()) {
    out.SetArray();
    for (auto& x : in.GetArray()) {
      rapidjson::Value v;
      expand_into(v, x, vars, gen, alloc);
      out.PushBack(v, alloc);
    }
  } else {
    out.CopyFrom(in, alloc);
  }
}

} // namespace

bool has_template(const std::string& text) noexcept {
  return text.find("{{") != std::string::npos;
}

std::string expand(const std::string& text, const template_vars& vars, rng& gen) {
  std::string out;
  out.reserve(text.size() + 8);
  size_t pos = 0;
  while (pos < text.size()) {
    auto open = text.find("{{", pos);
    auto close = open == std::string::npos ? open : text.find("}}", open + 2);
    if (close == std::string::npos) {
      out.append(text, pos, std::string::npos);
      break;
    }
    out.append(text, pos, open - pos);
    auto name = text.substr(open + 2, close - open - 2);
    if (name == "i")
      out += std::to_string(vars.i);
    else if (name == "n")
      out += std::to_string(vars.n);
    else if (name == "rand")
      out += std::to_string(gen() & 0xffffffffu);
    else if (name == "seed")
      out += std::to_string(vars.seed);
    else if (name == "pop")
      out += vars.pop;
    else
      out.append(text, open, close + 2 - open);
    pos = close + 2;
  }
  return out;
}

rapidjson::Document expand_json(const rapidjson::Value& value, const template_vars& vars,
                                rng& gen) {
  rapidjson::Document doc;
  expand_into(doc, value, vars, gen, doc.GetAllocator());
  return doc;
}

} // namespace phx::fleet
