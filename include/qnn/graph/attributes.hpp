// Node attributes: typed values with checked getters.
//
// A kernel reads the attributes it understands through the getters, which record each name they
// were asked for. After the kernel is made, `unused()` lists what the model set but nothing read:
// the session turns that into a qnn::error ("node 'conv1' (Conv): attribute 'foo' is not supported")
// instead of silently ignoring a setting that would change the answer.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "qnn/core/error.hpp"
#include "qnn/core/tensor.hpp"

namespace qnn {

using AttributeValue = std::variant<float, std::int64_t, std::string, Tensor, std::vector<float>,
                                    std::vector<std::int64_t>, std::vector<std::string>>;

class Attributes {
 public:
  void set(const std::string& name, AttributeValue v) { values_[name] = std::move(v); }
  void erase(const std::string& name) { values_.erase(name); }
  bool has(const std::string& name) const {
    read_.insert(name);
    return values_.count(name) != 0;
  }
  const std::map<std::string, AttributeValue>& all() const { return values_; }

  std::int64_t get_int(const std::string& name, std::int64_t def) const { return get_or<std::int64_t>(name, def); }
  std::int64_t get_int(const std::string& name) const { return get<std::int64_t>(name); }
  float get_float(const std::string& name, float def) const { return get_or<float>(name, def); }
  float get_float(const std::string& name) const { return get<float>(name); }
  std::string get_string(const std::string& name, const std::string& def) const { return get_or<std::string>(name, def); }
  std::string get_string(const std::string& name) const { return get<std::string>(name); }
  std::vector<std::int64_t> get_ints(const std::string& name, std::vector<std::int64_t> def = {}) const {
    return get_or<std::vector<std::int64_t>>(name, std::move(def));
  }
  std::vector<float> get_floats(const std::string& name, std::vector<float> def = {}) const {
    return get_or<std::vector<float>>(name, std::move(def));
  }
  const Tensor& get_tensor(const std::string& name) const { return get<Tensor>(name); }

  // The value if present and of type T, else nullptr — without recording a use. For code that
  // inspects a node it does not run (a backend's supports(), reports), so the kernel that does run
  // it still answers for every attribute.
  template <class T>
  const T* peek(const std::string& name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? nullptr : std::get_if<T>(&it->second);
  }

  // Attributes present but never read.
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [name, v] : values_)
      if (!read_.count(name)) out.push_back(name);
    return out;
  }

 private:
  template <class T>
  static const char* kind_name() {
    if constexpr (std::same_as<T, float>) return "float";
    else if constexpr (std::same_as<T, std::int64_t>) return "int";
    else if constexpr (std::same_as<T, std::string>) return "string";
    else if constexpr (std::same_as<T, Tensor>) return "tensor";
    else if constexpr (std::same_as<T, std::vector<float>>) return "floats";
    else if constexpr (std::same_as<T, std::vector<std::int64_t>>) return "ints";
    else return "strings";
  }
  template <class T>
  const T& get(const std::string& name) const {
    read_.insert(name);
    const auto it = values_.find(name);
    check(it != values_.end(), "required attribute '", name, "' is missing");
    const T* v = std::get_if<T>(&it->second);
    check(v != nullptr, "attribute '", name, "' must be of type ", kind_name<T>());
    return *v;
  }
  template <class T>
  T get_or(const std::string& name, T def) const {
    read_.insert(name);
    const auto it = values_.find(name);
    if (it == values_.end()) return def;
    const T* v = std::get_if<T>(&it->second);
    check(v != nullptr, "attribute '", name, "' must be of type ", kind_name<T>());
    return *v;
  }

  std::map<std::string, AttributeValue> values_;
  mutable std::set<std::string> read_;
};

}  // namespace qnn
