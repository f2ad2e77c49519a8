// A small command-line parser: positional arguments and --options (repeatable, with or without a
// value). Unknown options and missing values are qnn::errors, so `qnn run --inptu x.npy` fails with
// "unknown option --inptu" rather than being ignored.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "qnn/core/error.hpp"

namespace qnn::cli {

class Args {
 public:
  // `valued`: options that take a value; `flags`: options that do not.
  Args(int argc, char** argv, int first, const std::set<std::string>& valued, const std::set<std::string>& flags) {
    for (int i = first; i < argc; ++i) {
      const std::string a = argv[i];
      // A one-letter option "-x" is "--x" (qnn quantize's "-o OUT.onnx"); "-" alone stays positional.
      const bool is_short = a.size() == 2 && a[0] == '-' && a[1] != '-';
      if ((a.rfind("--", 0) == 0 && a.size() > 2) || is_short) {
        std::string name = a.substr(is_short ? 1 : 2);
        std::string value;
        const auto eq = name.find('=');
        const bool has_eq = eq != std::string::npos;
        if (has_eq) {
          value = name.substr(eq + 1);
          name = name.substr(0, eq);
        }
        if (flags.count(name)) {
          check(!has_eq, "option --", name, " takes no value");
          options_[name].push_back("");
        } else if (valued.count(name)) {
          if (!has_eq) {
            check(i + 1 < argc, "option --", name, " needs a value");
            value = argv[++i];
          }
          options_[name].push_back(value);
        } else {
          fail("unknown option --", name);
        }
      } else {
        positional_.push_back(a);
      }
    }
  }
  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& name) const { return options_.count(name) != 0; }
  std::vector<std::string> all(const std::string& name) const {
    auto it = options_.find(name);
    return it == options_.end() ? std::vector<std::string>{} : it->second;
  }
  std::string get(const std::string& name, const std::string& def = "") const {
    auto it = options_.find(name);
    if (it == options_.end()) return def;
    check(it->second.size() == 1, "option --", name, " given more than once");
    return it->second.front();
  }
  int get_int(const std::string& name, int def) const {
    const std::string v = get(name, "");
    if (v.empty()) return def;
    try {
      std::size_t used = 0;
      const int n = std::stoi(v, &used);
      check(used == v.size(), "");
      return n;
    } catch (...) {
      fail("option --", name, " needs an integer, got '", v, "'");
    }
  }
  double get_double(const std::string& name, double def) const {
    const std::string v = get(name, "");
    if (v.empty()) return def;
    try {
      std::size_t used = 0;
      const double x = std::stod(v, &used);
      check(used == v.size(), "");
      return x;
    } catch (...) {
      fail("option --", name, " needs a number, got '", v, "'");
    }
  }
  std::string require_positional(std::size_t i, const char* what) const {
    check(i < positional_.size(), "missing ", what);
    return positional_[i];
  }

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::vector<std::string>> options_;
};

// Refuses an output path that names one of the command's input files (also through a link or a
// different spelling): qnn never overwrites what the user passed in.
inline void check_not_an_input(const std::string& output, const std::vector<std::string>& inputs) {
  for (const auto& in : inputs) {
    std::error_code ec;
    check(!std::filesystem::equivalent(output, in, ec), "output '", output, "' is the input file '", in,
          "'; choose another output path (qnn never overwrites its inputs)");
  }
}

}  // namespace qnn::cli
