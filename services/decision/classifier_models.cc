#include "services/decision/classifier_models.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/text_file.h"
#include "services/decision/builtin_classifier.h"
#include "services/decision/fasttext_model_check.h"

namespace llmrouter::decision {
namespace {

absl::Status Problem(absl::string_view path, absl::string_view message) {
  return BundleProblemsError({{std::string(path), std::string(message)}});
}

}  // namespace

absl::StatusOr<ClassifierModels::Resolved> ClassifierModels::Resolve(const ClassifierSpec& spec,
                                                                     const std::string& uploaded) {
  Resolved out;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = loaded_.find(spec.sha256); it != loaded_.end()) out.model = it->second.lock();
  }
  std::string bytes;
  bool stored = false;
  if (!uploaded.empty()) {
    const std::string hash = Sha256Hex(uploaded);
    if (hash != spec.sha256) {
      return Problem("classifier.sha256",
                     absl::StrCat("the model sent with the bundle has SHA-256 ", hash,
                                  ", the bundle names ", spec.sha256));
    }
    bytes = uploaded;
  }
  if (store_ != nullptr) {
    absl::StatusOr<std::string> from_store = store_->GetClassifierModel(spec.sha256);
    if (from_store.ok()) {
      stored = true;
      if (bytes.empty()) bytes = *std::move(from_store);
    } else if (!absl::IsNotFound(from_store.status())) {
      return from_store.status();
    }
  }
  if (bytes.empty() && out.model == nullptr) {
    if (BuiltinClassifierSha256() == spec.sha256) {
      bytes = std::string(BuiltinClassifierModel());
    } else if (!spec.file.empty()) {
      absl::StatusOr<std::string> file = ReadModelFile(spec.file);
      if (!file.ok()) return Problem("classifier.file", file.status().message());
      if (const std::string hash = Sha256Hex(*file); hash != spec.sha256) {
        return Problem("classifier.file", absl::StrCat(spec.file, " has SHA-256 ", hash,
                                                       ", the bundle names ", spec.sha256));
      }
      bytes = *std::move(file);
    } else {
      return Problem("classifier.sha256",
                     absl::StrCat("no classifier model with this hash: decision's built-in one "
                                  "is ",
                                  BuiltinClassifierSha256(),
                                  "; send a model with the bundle (routerctl policy apply "
                                  "--classifier FILE) or name its file (classifier.file)"));
    }
  }
  if (out.model == nullptr) {
    absl::StatusOr<std::shared_ptr<const LearnedClassifier>> model =
        LearnedClassifier::Load(bytes);
    if (!model.ok()) return Problem("classifier", model.status().message());
    out.model = *std::move(model);
    absl::MutexLock lock(&mu_);
    // Models no revision or candidate holds any more are forgotten, so that callers sending
    // many different models (ValidateBundle, TestBundle) cannot grow this map.
    absl::erase_if(loaded_, [](const auto& entry) { return entry.second.expired(); });
    loaded_[spec.sha256] = out.model;
  }
  if (!stored && store_ != nullptr) out.to_store = out.model->bytes();
  return out;
}

absl::StatusOr<std::string> ClassifierModels::ReadModelFile(const std::string& path) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::canonical(file_dir_, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("decision reads classifier files only from ", file_dir_,
                     " (--classifier_dir), which does not exist"));
  }
  const fs::path file = fs::canonical(path, ec);
  bool inside = !ec;
  if (inside) {
    const auto [in_dir, in_file] = std::mismatch(dir.begin(), dir.end(), file.begin(), file.end());
    inside = in_dir == dir.end() && in_file != file.end();
  }
  if (!inside) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a file in ", file_dir_, " (--classifier_dir)"));
  }
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > kMaxClassifierModelBytes || ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not a regular file of at most ", kMaxClassifierModelBytes, " bytes"));
  }
  return ReadTextFile(file.string());
}

std::vector<BundleProblem> CheckClassifierIntents(const PolicyBundle& bundle,
                                                  const LearnedClassifier* model) {
  std::vector<BundleProblem> problems;
  for (std::size_t r = 0; r < bundle.rules.size(); ++r) {
    const std::vector<std::string>& intents = bundle.rules[r].match.intents;
    for (std::size_t i = 0; i < intents.size(); ++i) {
      bool known = model != nullptr && model->IntentIndex(intents[i]) >= 0;
      for (const IntentSpec& spec : bundle.intents) known |= spec.name == intents[i];
      if (known) continue;
      problems.push_back(
          {absl::StrCat("rules[", r, "].match.intent[", i, "]"),
           model == nullptr
               ? absl::StrCat("unknown intent \"", intents[i], "\"")
               : absl::StrCat("unknown intent \"", intents[i],
                              "\": neither the bundle's intents nor the classifier's define it")});
    }
  }
  return problems;
}

}  // namespace llmrouter::decision
