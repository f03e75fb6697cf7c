// The learned prompt classifier: text preparation, the model file check, loading and
// prediction with the built-in model, and how bundles name, store and roll back models.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/sha256.h"
#include "services/decision/active_policy.h"
#include "services/decision/builtin_classifier.h"
#include "services/decision/classifier_text.h"
#include "services/decision/classifier_training.h"
#include "services/decision/fasttext_model_check.h"
#include "services/decision/learned_classifier.h"
#include "services/decision/sqlite_policy_store.h"
#include "tests/support/process_harness.h"

namespace llmrouter::decision {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Prepared(absl::string_view text) {
  std::string out;
  PrepareClassifierText(text, &out);
  return out;
}

TEST(ClassifierTextTest, FoldsCaseDigitsAndSplitsPunctuation) {
  EXPECT_EQ(Prepared("Write a C++ function, in 2024!"), "write a c ++ function , in 0000 !");
  EXPECT_EQ(Prepared("ÜBER Straße ПРИВЕТ"), "über straße привет");
}

TEST(ClassifierTextTest, CutsScriptsWithoutSpacesIntoBigrams) {
  EXPECT_EQ(Prepared("请翻译"), "请翻 翻译");
  EXPECT_EQ(Prepared("コード。"), "コー ード 。");
  EXPECT_EQ(Prepared("a字b"), "a 字 b");
}

TEST(ClassifierTextTest, NeverMakesANewlineOrAFastTextLabel) {
  const std::string out = Prepared("line one\nline two\r\n__label__code\t0");
  EXPECT_THAT(out, Not(HasSubstr("\n")));
  EXPECT_THAT(out, Not(HasSubstr("__label__")));
  EXPECT_EQ(Prepared(std::string("a\0b\xff\xfe", 5)), "a b");
}

TEST(ClassifierTextTest, ReadsOnlyTheHeadAndTailOfALongMessage) {
  const std::string text = "summarize this " + std::string(100000, 'x') + " end";
  const std::string out = Prepared(text);
  EXPECT_LE(out.size(), kClassifierHeadBytes + kClassifierTailBytes + 8);
  EXPECT_THAT(out, HasSubstr("summarize this"));
  EXPECT_THAT(out, HasSubstr("end"));
}

std::string Builtin() { return std::string(BuiltinClassifierModel()); }

TEST(FastTextModelCheckTest, TheBuiltInModelPasses) {
  EXPECT_TRUE(CheckFastTextModel(Builtin()).ok());
  EXPECT_LE(Builtin().size(), kMaxClassifierModelBytes);
}

TEST(FastTextModelCheckTest, RefusesEveryTruncationAndCorruptHeaders) {
  const std::string model = Builtin();
  for (std::size_t n : {std::size_t{0}, std::size_t{4}, std::size_t{30}, std::size_t{100},
                        model.size() / 2, model.size() - 1}) {
    EXPECT_EQ(CheckFastTextModel(model.substr(0, n)).code(), absl::StatusCode::kInvalidArgument)
        << n;
  }
  std::string bad_magic = model;
  bad_magic[0] ^= 1;
  EXPECT_THAT(CheckFastTextModel(bad_magic).message(), HasSubstr("magic"));
  std::string bad_dim = model;
  const int32_t huge = 1 << 30;
  std::memcpy(&bad_dim[8], &huge, sizeof huge);  // args.dim
  EXPECT_THAT(CheckFastTextModel(bad_dim).message(), HasSubstr("dimension"));
  EXPECT_THAT(CheckFastTextModel(model + "x").message(), HasSubstr("after the model"));
  EXPECT_THAT(CheckFastTextModel(std::string(kMaxClassifierModelBytes + 1, '\0')).message(),
              HasSubstr("limit"));
}

TEST(FastTextModelCheckTest, RefusesWeightsThatWouldOverflowAPrediction) {
  // Found by classifier_model_fuzz: finite weights so large that a prediction's sums turned NaN
  // and fastText threw inside decision.
  std::ifstream in(testing::SourcePath("tests/fuzz/corpus/classifier_model_fuzz/crash-huge-weight"),
                   std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  ASSERT_FALSE(bytes.str().empty());
  EXPECT_THAT(CheckFastTextModel(bytes.str()).message(), HasSubstr("beyond"));
}

TEST(LearnedClassifierTest, RefusesACorruptModelWithAClearError) {
  std::string model = Builtin();
  model.resize(model.size() - 10);
  auto loaded = LearnedClassifier::Load(model);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("classifier model"));
}

class BuiltinClassifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = LearnedClassifier::Load(Builtin());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    model_ = *loaded;
  }
  std::string Intent(absl::string_view text) {
    model_->Classify(text, &out_);
    return model_->intents()[model_->BestIntent(out_, 0.5)];
  }
  std::shared_ptr<const LearnedClassifier> model_;
  ClassifierOutput out_;
};

TEST_F(BuiltinClassifierTest, KnowsTheTaxonomy) {
  for (const char* name : {"code", "math", "legal", "medical", "finance", "creative_writing",
                           "summarization", "translation", "data_analysis", "general_chat"}) {
    EXPECT_GE(model_->IntentIndex(name), 0) << name;
  }
  EXPECT_EQ(model_->sha256(), Sha256Hex(Builtin()));
}

TEST_F(BuiltinClassifierTest, PredictsIntentsWithProbabilities) {
  EXPECT_EQ(Intent("Write a Python function that reverses a linked list in place"), "code");
  EXPECT_EQ(Intent("Translate this sentence into German: the meeting moved to Friday"),
            "translation");
  EXPECT_EQ(Intent("请把下面这段话翻译成英文：我们明天下午三点开会。"), "translation");
  double sum = 0;
  for (std::size_t i = 0; i < model_->intents().size(); ++i) sum += out_.intent_probability[i];
  EXPECT_NEAR(sum, 1.0, 1e-3);
}

TEST_F(BuiltinClassifierTest, ComplexityBandsMeanSomething) {
  model_->Classify("hi there, how are you today?", &out_);
  const double small_talk = out_.complexity;
  model_->Classify(
      "Prove that there are infinitely many prime numbers, step by step, and then show that "
      "the sum of their reciprocals diverges.",
      &out_);
  EXPECT_LT(small_talk, 0.25);
  EXPECT_GE(out_.complexity, 0.5);
  EXPECT_GT(out_.complexity, small_talk);
}

TEST_F(BuiltinClassifierTest, EmptyBinaryAndHugePromptsAreAnalysedWithoutError) {
  model_->Classify("", &out_);
  EXPECT_TRUE(out_.empty);
  EXPECT_EQ(model_->intents()[model_->BestIntent(out_, 0.5)], "general_chat");
  std::string binary(4096, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 131);
  model_->Classify(binary, &out_);
  model_->Classify(std::string(1 << 20, 'a'), &out_);
  EXPECT_GE(out_.complexity, 0.0);
  EXPECT_LE(out_.complexity, 1.0);
}

// Bundles name models by hash; the store keeps them with the revision.
class ClassifierPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("classifier");
    auto store = SqlitePolicyStore::Open(dir_ + "/policy.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    models_dir_ = dir_ + "/models";
    std::filesystem::create_directories(models_dir_);
    policy_ = std::make_unique<ActivePolicy>(*store_, models_dir_);
  }

  static std::string Bundle(const std::string& sha256, const std::string& extra = "") {
    return R"(
models:
  - {name: small, price: {input_per_mtok: 0.1, output_per_mtok: 0.2}}
  - {name: large, price: {input_per_mtok: 3, output_per_mtok: 15}}
classifier: {sha256: )" +
           sha256 + R"(}
rules:
  - name: code-to-large
    match: {model: auto, intent: [code]}
    then: {candidates: [large]}
  - name: rest
    match: {model: auto}
    then: {candidates: [small]}
)" + extra;
  }

  // A second, different model: trained on a slice of the corpus.
  static std::string SmallModel() {
    std::vector<LabeledPrompt> prompts;
    for (const char* intent : {"code", "general_chat"}) {
      std::ifstream in(
          testing::SourcePath(absl::StrCat("data/classifier/train/", intent, ".jsonl")));
      std::stringstream text;
      text << in.rdbuf();
      EXPECT_TRUE(ReadLabeledPrompts(text.str(), intent, &prompts).ok());
    }
    TrainingOptions options;
    options.epoch = 2;
    options.dim = 8;
    options.cutoff = 2000;
    auto model = TrainClassifier(prompts, options, testing::MakeTempDir("train"));
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *model : "";
  }

  std::string dir_;
  std::string models_dir_;  // where bundles may name model files
  std::unique_ptr<SqlitePolicyStore> store_;
  std::unique_ptr<ActivePolicy> policy_;
};

TEST_F(ClassifierPolicyTest, TheBuiltInModelIsFoundByHashAndStoredWithTheRevision) {
  const std::string hash = Sha256Hex(Builtin());
  auto applied = policy_->Apply(Bundle(hash), "t", "");
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_NE(policy_->Current()->classifier(), nullptr);
  EXPECT_EQ(policy_->Current()->classifier()->sha256(), hash);
  auto stored = store_->GetClassifierModel(hash);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, Builtin());
}

TEST_F(ClassifierPolicyTest, AnUnknownOrMismatchedModelIsRefusedAndTheActiveRevisionStays) {
  ASSERT_TRUE(policy_->Apply(Bundle(Sha256Hex(Builtin())), "t", "").ok());
  const std::string unknown(64, 'a');
  auto refused = policy_->Apply(Bundle(unknown), "t", "");
  EXPECT_THAT(refused.status().message(), HasSubstr("classifier.sha256: no classifier model"));
  refused = policy_->Apply(Bundle(unknown), "t", "", Builtin());
  EXPECT_THAT(refused.status().message(), HasSubstr("the model sent with the bundle has"));
  std::string corrupt = Builtin();
  corrupt.resize(1000);
  refused = policy_->Apply(Bundle(Sha256Hex(corrupt)), "t", "", corrupt);
  EXPECT_THAT(refused.status().message(), HasSubstr("classifier model:"));
  EXPECT_EQ(policy_->Current()->revision(), 1u);
  EXPECT_EQ(policy_->Current()->classifier()->sha256(), Sha256Hex(Builtin()));
}

TEST_F(ClassifierPolicyTest, AModelFileIsReadOnlyFromTheClassifierFolder) {
  const std::string other = SmallModel();
  ASSERT_FALSE(other.empty());
  const std::string hash = Sha256Hex(other);
  auto with_file = [&](const std::string& path) {
    std::string bundle = Bundle(hash);
    return bundle.replace(bundle.find("}\nrules"), 1, ", file: \"" + path + "\"}");
  };
  std::ofstream(models_dir_ + "/team.ftz", std::ios::binary) << other;
  std::ofstream(dir_ + "/outside.ftz", std::ios::binary) << other;
  std::ofstream(models_dir_ + "/big.ftz") << std::string(kMaxClassifierModelBytes + 1, 'x');
  // A device, a file elsewhere, a way out of the folder, an oversized file: refused unread.
  for (const std::string& path :
       {std::string("/dev/zero"), dir_ + "/outside.ftz", models_dir_ + "/../outside.ftz"}) {
    EXPECT_THAT(policy_->Apply(with_file(path), "t", "").status().message(),
                HasSubstr("is not a file in " + models_dir_))
        << path;
  }
  EXPECT_THAT(policy_->Apply(with_file(models_dir_ + "/big.ftz"), "t", "").status().message(),
              HasSubstr("is not a regular file of at most"));
  auto applied = policy_->Apply(with_file(models_dir_ + "/team.ftz"), "t", "");
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(policy_->Current()->classifier()->sha256(), hash);
}

TEST_F(ClassifierPolicyTest, RulesMayOnlyNameIntentsTheBundleOrTheModelDefines) {
  auto refused = policy_->Apply(Bundle(Sha256Hex(Builtin())) +
                                    "  - name: x\n    match: {intent: [astrology]}\n"
                                    "    then: {candidates: [small]}\n",
                                "t", "");
  EXPECT_THAT(refused.status().message(),
              HasSubstr("rules[2].match.intent[0]: unknown intent \"astrology\""));
}

TEST_F(ClassifierPolicyTest, RollingBackAlsoRollsBackTheModel) {
  const std::string builtin_hash = Sha256Hex(Builtin());
  ASSERT_TRUE(policy_->Apply(Bundle(builtin_hash), "t", "").ok());
  const std::string other = SmallModel();
  ASSERT_FALSE(other.empty());
  auto second = policy_->Apply(Bundle(Sha256Hex(other)), "t", "", other);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(policy_->Current()->classifier()->sha256(), Sha256Hex(other));
  ASSERT_TRUE(policy_->Rollback(1, "t", "").ok());
  EXPECT_EQ(policy_->Current()->classifier()->sha256(), builtin_hash);
  ASSERT_TRUE(policy_->Rollback(2, "t", "").ok());
  EXPECT_EQ(policy_->Current()->classifier()->sha256(), Sha256Hex(other));
  // A restarted decision finds the model in its SQLite file, without the upload.
  ActivePolicy restarted(*store_);
  ASSERT_TRUE(restarted.LoadFromStore().ok());
  EXPECT_EQ(restarted.Current()->classifier()->sha256(), Sha256Hex(other));
}

}  // namespace
}  // namespace llmrouter::decision
