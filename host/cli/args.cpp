#include "cli/args.hpp"

namespace th::cli {

ParsedArgs parse_args(const std::vector<std::string> &args, const std::vector<OptionSpec> &specs) {
  ParsedArgs out;
  auto find = [&](const std::string &name) -> const OptionSpec * {
    for (auto &s : specs)
      if (s.long_name == name || (!s.short_name.empty() && s.short_name == name))
        return &s;
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--help" || a == "-h") {
      out.flags.insert("--help");
      continue;
    }
    if (a == "--") {
      out.positional.insert(out.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string name = a, inline_value;
      bool has_inline = false;
      if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
        name = a.substr(0, eq);
        inline_value = a.substr(eq + 1);
        has_inline = true;
      }
      const OptionSpec *spec = find(name);
      if (!spec)
        throw UsageError("unknown option " + name);
      if (spec->takes_value) {
        if (has_inline) {
          out.values[spec->long_name] = inline_value;
        } else {
          if (i + 1 >= args.size())
            throw UsageError("option " + name + " needs a value");
          out.values[spec->long_name] = args[++i];
        }
      } else {
        if (has_inline)
          throw UsageError("option " + name + " takes no value");
        out.flags.insert(spec->long_name);
      }
      continue;
    }
    out.positional.push_back(a);
  }
  return out;
}

} // namespace th::cli
