// routerctl classifier train|eval: trains a prompt classifier on labeled JSONL files and scores
// one on a labeled file, locally (no service involved): how operators retrain on their traffic.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/text_file.h"
#include "services/decision/classifier_training.h"
#include "services/decision/learned_classifier.h"
#include "services/decision/policy_bundle.h"
#include "tools/routerctl/routerctl_session.h"

namespace llmrouter::routerctl {
namespace {

using decision::LabeledPrompt;

// --data names files or folders (their *.jsonl files, by name), separated by commas.
absl::Status ReadData(const std::string& spec, std::vector<LabeledPrompt>* out) {
  std::vector<std::string> files;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const std::filesystem::path path{std::string(part)};
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        if (entry.path().extension() == ".jsonl") found.push_back(entry.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path.string());
    }
  }
  if (files.empty()) return absl::InvalidArgumentError(absl::StrCat("--data ", spec, ": no files"));
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadTextFile(file);
    if (!text.ok()) return text.status();
    if (absl::Status s = decision::ReadLabeledPrompts(*text, file, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ConfidenceFlag(const CommandLine& cl) {
  double value = decision::ClassifierSpec{}.min_confidence;
  if (auto v = cl.Get("min_confidence");
      v && (!absl::SimpleAtod(*v, &value) || value < 0 || value > 1)) {
    return absl::InvalidArgumentError("--min_confidence must be a number in [0, 1]");
  }
  return value;
}

// --options "dim=64,epoch=50,lr=0.5,word_ngrams=1,minn=3,maxn=6,bucket=500000,cutoff=40000,
// dsub=8": training options besides the defaults (docs/policies.md says how those were chosen).
absl::Status ApplyOptions(absl::string_view spec, decision::TrainingOptions* o) {
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, '=');
    int* integer = kv.first == "dim"           ? &o->dim
                   : kv.first == "epoch"       ? &o->epoch
                   : kv.first == "word_ngrams" ? &o->word_ngrams
                   : kv.first == "minn"        ? &o->min_char_ngram
                   : kv.first == "maxn"        ? &o->max_char_ngram
                   : kv.first == "bucket"      ? &o->bucket
                   : kv.first == "cutoff"      ? &o->cutoff
                   : kv.first == "dsub"        ? &o->dsub
                                               : nullptr;
    const bool ok = integer != nullptr ? absl::SimpleAtoi(kv.second, integer)
                    : kv.first == "lr" ? absl::SimpleAtod(kv.second, &o->learning_rate)
                                       : false;
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--options: \"", item,
          "\" (known: dim, epoch, lr, word_ngrams, minn, maxn, bucket, cutoff, dsub)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RouterctlSession::ClassifierTrain(const std::vector<std::string>& args) {
  std::vector<LabeledPrompt> prompts;
  if (absl::Status s = ReadData(*cl_.Get("data"), &prompts); !s.ok()) return LocalError(s);
  decision::TrainingOptions options;
  if (auto seed = cl_.Get("seed"); seed && !absl::SimpleAtoi(*seed, &options.seed)) {
    return LocalError(absl::InvalidArgumentError("--seed must be an integer"));
  }
  if (auto spec = cl_.Get("options")) {
    if (absl::Status s = ApplyOptions(*spec, &options); !s.ok()) return LocalError(s);
  }
  const std::string out_path = *cl_.Get("out");
  const std::string scratch = std::filesystem::path(out_path).parent_path().string();
  absl::StatusOr<std::string> model =
      decision::TrainClassifier(prompts, options, scratch.empty() ? "." : scratch);
  if (!model.ok()) return LocalError(model.status());
  // Loading it back checks it the way decision will.
  auto loaded = decision::LearnedClassifier::Load(*model);
  if (!loaded.ok()) return LocalError(loaded.status());
  std::ofstream f(out_path, std::ios::binary | std::ios::trunc);
  f.write(model->data(), static_cast<std::streamsize>(model->size()));
  if (!f.good()) return LocalError(absl::InternalError(absl::StrCat("cannot write ", out_path)));
  if (json_) {
    out_ << "{\"model\":\"" << out_path << "\",\"sha256\":\"" << (*loaded)->sha256()
         << "\",\"bytes\":" << model->size() << ",\"prompts\":" << prompts.size() << "}\n";
  } else {
    out_ << "trained on " << prompts.size() << " prompts, " << (*loaded)->intents().size()
         << " intents: " << out_path << " (" << model->size() << " bytes)\nsha256 "
         << (*loaded)->sha256() << "\n";
  }
  return kExitOk;
}

int RouterctlSession::ClassifierEval(const std::vector<std::string>& args) {
  std::vector<LabeledPrompt> prompts;
  if (absl::Status s = ReadData(*cl_.Get("data"), &prompts); !s.ok()) return LocalError(s);
  absl::StatusOr<double> confidence = ConfidenceFlag(cl_);
  if (!confidence.ok()) return LocalError(confidence.status());
  absl::StatusOr<std::string> bytes = ReadTextFile(*cl_.Get("model"));
  if (!bytes.ok()) return LocalError(bytes.status());
  auto model = decision::LearnedClassifier::Load(*std::move(bytes));
  if (!model.ok()) return LocalError(model.status());
  const decision::ClassifierEvaluation e =
      decision::EvaluateClassifier(**model, prompts, *confidence);
  out_ << "model sha256 " << (*model)->sha256() << "\n" << decision::FormatEvaluation(e);
  if (!cl_.GetBool("check_floors")) return kExitOk;
  const std::vector<std::string> missed = decision::MissedFloors(e, {});
  for (const std::string& m : missed) err_ << "below the floor: " << m << "\n";
  return missed.empty() ? kExitOk : kExitFailure;
}

}  // namespace llmrouter::routerctl
