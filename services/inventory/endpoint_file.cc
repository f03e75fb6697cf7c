#include "services/inventory/endpoint_file.h"

#include <yaml-cpp/yaml.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/text_file.h"
#include "services/inventory/endpoint_registry.h"
#include "services/inventory/health_config.h"

namespace llmrouter::inventory {
namespace {

using llmrouter::v1::Endpoint;

const absl::flat_hash_set<std::string>& KnownKeys() {
  static const auto* keys = new absl::flat_hash_set<std::string>{
      "id",    "model",   "address", "scheme", "region", "zone",        "pool",
      "track", "version", "weight",  "labels", "health", "health_check"};
  return *keys;
}

void ParseOne(const YAML::Node& node, const std::string& where, Endpoint* e,
              std::vector<std::string>* problems) {
  if (!node.IsMap()) {
    problems->push_back(absl::StrCat(where, ": must be a mapping"));
    return;
  }
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!KnownKeys().contains(key)) {
      problems->push_back(absl::StrCat(where, ".", key, ": unknown field"));
    }
  }
  auto str = [&](const char* key, std::string* out) {
    const YAML::Node v = node[key];
    if (!v) return;
    if (!v.IsScalar()) {
      problems->push_back(absl::StrCat(where, ".", key, ": must be a string"));
      return;
    }
    *out = v.as<std::string>();
  };
  str("id", e->mutable_id());
  str("model", e->mutable_model());
  str("address", e->mutable_address());
  str("scheme", e->mutable_scheme());
  str("region", e->mutable_region());
  str("zone", e->mutable_zone());
  str("pool", e->mutable_pool());
  str("track", e->mutable_track());
  str("version", e->mutable_version());
  if (const YAML::Node w = node["weight"]) {
    try {
      int weight = w.as<int>();
      if (weight < 0) throw YAML::Exception(w.Mark(), "negative");
      e->set_weight(static_cast<uint32_t>(weight));
    } catch (const YAML::Exception&) {
      problems->push_back(absl::StrCat(where, ".weight: must be a non-negative integer"));
    }
  }
  if (const YAML::Node h = node["health"]) {
    std::string v = h.IsScalar() ? h.as<std::string>() : "";
    llmrouter::v1::HealthState state;
    if (v == "healthy") {
      state = llmrouter::v1::HEALTH_STATE_HEALTHY;
    } else if (v == "degraded") {
      state = llmrouter::v1::HEALTH_STATE_DEGRADED;
    } else if (v == "unhealthy") {
      state = llmrouter::v1::HEALTH_STATE_UNHEALTHY;
    } else if (v == "draining") {
      state = llmrouter::v1::HEALTH_STATE_DRAINING;
    } else {
      problems->push_back(absl::StrCat(where, ".health: \"", v,
                                       "\" is not one of healthy, degraded, unhealthy, draining"));
      state = llmrouter::v1::HEALTH_STATE_UNSPECIFIED;
    }
    e->set_health(state);
  }
  if (const YAML::Node labels = node["labels"]) {
    if (!labels.IsMap()) {
      problems->push_back(absl::StrCat(where, ".labels: must be a mapping of strings"));
    } else {
      for (const auto& kv : labels) {
        (*e->mutable_labels())[kv.first.as<std::string>()] =
            kv.second.IsScalar() ? kv.second.as<std::string>() : "";
      }
    }
  }
  if (const YAML::Node check = node["health_check"]) {
    ParseHealthCheckNode(check, where + ".health_check", e->mutable_health_check(), problems);
  }
  if (absl::Status s = NormalizeEndpoint(e); !s.ok()) {
    problems->push_back(absl::StrCat(where, ": ", s.message()));
  }
}

}  // namespace

absl::StatusOr<EndpointsFile> ParseEndpointsFileYaml(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("endpoints file is not valid YAML: ", e.what()));
  }
  std::vector<std::string> problems;
  EndpointsFile out;
  if (root.IsNull()) return out;
  if (!root.IsMap() || (!root["endpoints"] && !root["discovery"])) {
    return absl::InvalidArgumentError(
        "endpoints file: expected a top-level \"endpoints\" list (or \"discovery\")");
  }
  absl::flat_hash_set<std::string> ids;
  if (const YAML::Node list = root["endpoints"]) {
    if (!list.IsSequence()) return absl::InvalidArgumentError("endpoints: must be a list");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string where = absl::StrCat("endpoints[", i, "]");
      Endpoint e;
      try {
        ParseOne(list[i], where, &e, &problems);
      } catch (const YAML::Exception& ex) {
        problems.push_back(absl::StrCat(where, ": ", ex.what()));
        continue;
      }
      if (!e.id().empty() && !ids.insert(e.id()).second) {
        problems.push_back(absl::StrCat(where, ".id: duplicate id \"", e.id(), "\""));
      }
      out.endpoints.push_back(std::move(e));
    }
  }
  if (const YAML::Node list = root["discovery"]) {
    if (!list.IsSequence()) return absl::InvalidArgumentError("discovery: must be a list");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string where = absl::StrCat("discovery[", i, "]");
      Endpoint e;
      try {
        const YAML::Node item = list[i];
        if (!item.IsMap() || !item["service"] || !item["service"].IsScalar() || item["address"]) {
          problems.push_back(
              absl::StrCat(where, ": needs \"service: <dns name>:<port>\" (and no address)"));
          continue;
        }
        // The template is an endpoint whose address is the name to resolve.
        YAML::Node copy = YAML::Clone(item);
        copy["address"] = copy["service"].as<std::string>();
        copy.remove("service");
        ParseOne(copy, where, &e, &problems);
        // Each resolved address gets its own id; keep only one the operator chose.
        if (!item["id"]) e.clear_id();
      } catch (const YAML::Exception& ex) {
        problems.push_back(absl::StrCat(where, ": ", ex.what()));
        continue;
      }
      out.discovery.push_back(std::move(e));
    }
  }
  if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
  return out;
}

absl::StatusOr<std::vector<Endpoint>> ParseEndpointsYaml(const std::string& text) {
  absl::StatusOr<EndpointsFile> file = ParseEndpointsFileYaml(text);
  if (!file.ok()) return file.status();
  return std::move(file->endpoints);
}

absl::StatusOr<EndpointsFile> LoadEndpointsFileWithDiscovery(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ParseEndpointsFileYaml(*text);
}

absl::StatusOr<std::vector<Endpoint>> LoadEndpointsFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ParseEndpointsYaml(*text);
}

}  // namespace llmrouter::inventory
