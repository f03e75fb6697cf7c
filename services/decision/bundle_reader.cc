#include "services/decision/bundle_reader.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/decision/pattern_limits.h"

namespace llmrouter::decision {

bool OneOf(const std::string& v, std::initializer_list<const char*> options) {
  for (const char* o : options) {
    if (v == o) return true;
  }
  return false;
}

std::string Sub(const std::string& path, const char* key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

void BundleReader::Problem(std::string path, std::string message) {
  problems_->push_back({std::move(path), std::move(message)});
}

bool BundleReader::Map(const YAML::Node& node, const std::string& path,
                       std::initializer_list<const char*> keys) {
  if (!node.IsMap()) {
    Problem(path, "must be a mapping");
    return false;
  }
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    bool known = false;
    for (const char* k : keys) known = known || key == k;
    if (!known) {
      Problem(path.empty() ? key : absl::StrCat(path, ".", key),
              absl::StrCat("unknown field (known: ", absl::StrJoin(keys, ", "), ")"));
    }
  }
  return true;
}

bool BundleReader::String(const YAML::Node& node, const std::string& path, std::string* out) {
  if (!node) return false;
  if (!node.IsScalar() || node.Scalar().empty()) {
    Problem(path, "must be a non-empty string");
    return false;
  }
  *out = node.Scalar();
  return true;
}

void BundleReader::Strings(const YAML::Node& node, const std::string& path,
                           std::vector<std::string>* out) {
  if (!node) return;
  if (node.IsScalar()) {
    std::string v;
    if (String(node, path, &v)) out->push_back(std::move(v));
    return;
  }
  if (!node.IsSequence()) {
    Problem(path, "must be a string or a list of strings");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    std::string v;
    if (String(node[i], absl::StrCat(path, "[", i, "]"), &v)) out->push_back(std::move(v));
  }
}

bool BundleReader::Number(const YAML::Node& node, const std::string& path, double lo, double hi,
                          double* out) {
  if (!node) return false;
  double v = 0;
  // SimpleAtod reads "nan" and "inf" too; NaN passes every comparison below.
  if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &v) || !std::isfinite(v)) {
    Problem(path, "must be a number");
    return false;
  }
  if (v < lo || v > hi) {
    Problem(path, absl::StrCat(v, " is out of range [", lo, ", ", hi, "]"));
    return false;
  }
  *out = v;
  return true;
}

bool BundleReader::Uint(const YAML::Node& node, const std::string& path, uint32_t* out) {
  if (!node) return false;
  uint32_t v = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &v)) {
    uint64_t wide = 0;
    const bool too_large = node.IsScalar() && absl::SimpleAtoi(node.Scalar(), &wide);
    Problem(path, too_large ? "must be at most 4294967295" : "must be a non-negative integer");
    return false;
  }
  *out = v;
  return true;
}

bool BundleReader::Bool(const YAML::Node& node, const std::string& path, bool* out) {
  if (!node) return false;
  std::string v = node.IsScalar() ? absl::AsciiStrToLower(node.Scalar()) : "";
  if (v == "true" || v == "yes") {
    *out = true;
  } else if (v == "false" || v == "no") {
    *out = false;
  } else {
    Problem(path, "must be true or false");
    return false;
  }
  return true;
}

void BundleReader::Enum(const YAML::Node& node, const std::string& path,
                        std::initializer_list<const char*> options, std::string* out) {
  std::string v;
  if (!String(node, path, &v)) return;
  if (!OneOf(v, options)) {
    Problem(path, absl::StrCat("\"", v, "\" is not one of ", absl::StrJoin(options, ", ")));
    return;
  }
  *out = v;
}

void BundleReader::RangeOf(const YAML::Node& node, const std::string& path, double lo, double hi,
                           Range* out) {
  if (!node) return;
  if (!Map(node, path, {"min", "max"})) return;
  double v;
  if (Number(node["min"], Sub(path, "min"), lo, hi, &v)) out->min = v;
  if (Number(node["max"], Sub(path, "max"), lo, hi, &v)) out->max = v;
  if (out->min && out->max && *out->min > *out->max) Problem(path, "min is greater than max");
}

void BundleReader::Regex(const std::string& pattern, const std::string& path) {
  if (absl::Status s = CheckPattern(pattern); !s.ok()) Problem(path, std::string(s.message()));
}

}  // namespace llmrouter::decision
