#include "services/decision/fasttext_model_check.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace llmrouter::decision {
namespace {

// fastText 0.9.x's file format (src/fasttext.cc, args.cc, dictionary.cc, densematrix.cc,
// quantmatrix.cc, productquantizer.cc).
constexpr int32_t kMagic = 793712314;
constexpr int32_t kVersion = 12;
constexpr int32_t kModelSupervised = 3;
constexpr int32_t kLossSoftmax = 3;
constexpr int32_t kLossOneVsAll = 4;
constexpr int64_t kCentroidsPerSubquantizer = 256;
constexpr int32_t kMaxDim = 1024;
constexpr int32_t kMaxBucket = 1 << 24;
constexpr std::size_t kMaxWordBytes = 4096;
// Trained weights stay within a few units; finite but huge ones overflow the sums of a
// prediction into NaN, which fastText throws on (the fuzz target found one).
constexpr float kMaxWeight = 1e4f;

class ModelReader {
 public:
  explicit ModelReader(absl::string_view bytes) : bytes_(bytes) {}

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return bytes_.size() - offset_; }
  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  // Records the first problem only; later reads after a failure return zeros.
  void Fail(absl::string_view what) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("classifier model: ", what, " (at byte ", offset_, ")"));
    }
  }

  template <typename T>
  T Read(absl::string_view what) {
    T value{};
    if (!ok()) return value;
    if (remaining() < sizeof(T)) {
      Fail(absl::StrCat("the file ends inside ", what));
      return value;
    }
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }

  // fastText reads booleans as raw bytes: anything but 0 or 1 is undefined behaviour there.
  bool Bool(absl::string_view what) {
    const auto b = Read<uint8_t>(what);
    if (b > 1) Fail(absl::StrCat(what, " is neither 0 nor 1"));
    return b == 1;
  }

  absl::string_view Word() {
    if (!ok()) return {};
    const std::size_t end = bytes_.find('\0', offset_);
    if (end == absl::string_view::npos) {
      Fail("the file ends inside a dictionary word");
      return {};
    }
    absl::string_view word = bytes_.substr(offset_, end - offset_);
    if (word.empty() || word.size() > kMaxWordBytes) {
      Fail(absl::StrCat("a dictionary word of ", word.size(), " bytes"));
      return {};
    }
    offset_ = end + 1;
    return word;
  }

  // `count` floats, each finite.
  void Floats(int64_t count, absl::string_view what) {
    if (!ok()) return;
    if (count < 0 || static_cast<uint64_t>(count) > remaining() / sizeof(float)) {
      Fail(absl::StrCat(what, " needs ", count, " floats but the file has ",
                        remaining() / sizeof(float), " left"));
      return;
    }
    for (int64_t i = 0; i < count; ++i) {
      float f;
      std::memcpy(&f, bytes_.data() + offset_ + i * sizeof(float), sizeof f);
      if (!std::isfinite(f) || std::fabs(f) > kMaxWeight) {
        offset_ += i * sizeof(float);
        Fail(absl::StrCat(what, " holds a value that is not finite or beyond +-", kMaxWeight));
        return;
      }
    }
    offset_ += count * sizeof(float);
  }

  void Skip(int64_t count, absl::string_view what) {
    if (!ok()) return;
    if (count < 0 || static_cast<uint64_t>(count) > remaining()) {
      Fail(absl::StrCat(what, " needs ", count, " bytes but the file has ", remaining(),
                        " left"));
      return;
    }
    offset_ += count;
  }

 private:
  absl::string_view bytes_;
  std::size_t offset_ = 0;
  absl::Status status_;
};

struct Header {
  int32_t dim = 0, word_ngrams = 0, bucket = 0, minn = 0, maxn = 0;
};

void CheckArgs(ModelReader& r, Header* h) {
  h->dim = r.Read<int32_t>("args.dim");
  r.Read<int32_t>("args.ws");
  r.Read<int32_t>("args.epoch");
  r.Read<int32_t>("args.minCount");
  r.Read<int32_t>("args.neg");
  h->word_ngrams = r.Read<int32_t>("args.wordNgrams");
  const auto loss = r.Read<int32_t>("args.loss");
  const auto model = r.Read<int32_t>("args.model");
  h->bucket = r.Read<int32_t>("args.bucket");
  h->minn = r.Read<int32_t>("args.minn");
  h->maxn = r.Read<int32_t>("args.maxn");
  r.Read<int32_t>("args.lrUpdateRate");
  const auto t = r.Read<double>("args.t");
  if (!r.ok()) return;
  if (model != kModelSupervised) return r.Fail("not a supervised (classification) model");
  if (loss != kLossSoftmax && loss != kLossOneVsAll) {
    return r.Fail(absl::StrCat("loss ", loss, " is neither softmax nor one-vs-all"));
  }
  if (h->dim < 1 || h->dim > kMaxDim) return r.Fail(absl::StrCat("dimension ", h->dim));
  if (h->word_ngrams < 1 || h->word_ngrams > 8) {
    return r.Fail(absl::StrCat("wordNgrams ", h->word_ngrams));
  }
  if (h->bucket < 0 || h->bucket > kMaxBucket) return r.Fail(absl::StrCat("bucket ", h->bucket));
  if ((h->word_ngrams > 1 || h->maxn > 0) && h->bucket == 0) {
    return r.Fail("n-grams without hash buckets");  // fastText would divide by zero
  }
  if (h->minn < 0 || h->maxn < 0 || h->maxn > 32 || (h->maxn > 0 && (h->minn < 1 ||
                                                                     h->minn > h->maxn))) {
    return r.Fail(absl::StrCat("character n-gram lengths ", h->minn, "..", h->maxn));
  }
  if (!std::isfinite(t) || t <= 0) return r.Fail("sampling threshold args.t");
}

struct DictionaryShape {
  int64_t input_rows = 0;  // the rows of the input matrix that word ids and n-grams address
  int32_t labels = 0;
  bool pruned = false;
};

DictionaryShape CheckDictionary(ModelReader& r, const Header& h) {
  DictionaryShape shape;
  const auto size = r.Read<int32_t>("dictionary size");
  const auto nwords = r.Read<int32_t>("dictionary word count");
  const auto nlabels = r.Read<int32_t>("dictionary label count");
  const auto ntokens = r.Read<int64_t>("dictionary token count");
  const auto pruned = r.Read<int64_t>("dictionary pruned index size");
  if (!r.ok()) return shape;
  if (nwords < 0 || nlabels < 1 || size != int64_t{nwords} + nlabels) {
    r.Fail(absl::StrCat("dictionary of ", size, " entries holds ", nwords, " words and ",
                        nlabels, " labels"));
    return shape;
  }
  if (ntokens <= 0) {
    r.Fail("dictionary token count is not positive");
    return shape;
  }
  // Each entry takes at least 11 bytes; a size the file cannot hold is refused before the loop.
  if (static_cast<uint64_t>(size) > r.remaining() / 11) {
    r.Fail(absl::StrCat("dictionary of ", size, " entries in ", r.remaining(), " bytes"));
    return shape;
  }
  for (int32_t i = 0; i < size && r.ok(); ++i) {
    r.Word();
    if (r.Read<int64_t>("a word count") < 0) r.Fail("a negative word count");
    const auto type = r.Read<int8_t>("a word type");
    if (r.ok() && type != (i < nwords ? 0 : 1)) {
      r.Fail(absl::StrCat("entry ", i, " should be a ", i < nwords ? "word" : "label"));
    }
  }
  if (pruned < -1 || pruned > h.bucket) {
    r.Fail(absl::StrCat("pruned index of ", pruned, " entries for ", h.bucket, " buckets"));
    return shape;
  }
  shape.labels = nlabels;
  shape.pruned = pruned >= 0;
  if (pruned < 0) {
    shape.input_rows = int64_t{nwords} + h.bucket;
    return shape;
  }
  if (static_cast<uint64_t>(pruned) > r.remaining() / 8) {
    r.Fail(absl::StrCat("pruned index of ", pruned, " entries in ", r.remaining(), " bytes"));
    return shape;
  }
  int64_t rows = nwords;
  for (int64_t i = 0; i < pruned && r.ok(); ++i) {
    const auto bucket = r.Read<int32_t>("a pruned index key");
    const auto row = r.Read<int32_t>("a pruned index row");
    if (bucket < 0 || bucket >= h.bucket || row < 0) {
      r.Fail(absl::StrCat("pruned index entry ", bucket, " -> ", row));
    }
    rows = std::max(rows, int64_t{nwords} + row + 1);
  }
  shape.input_rows = rows;
  return shape;
}

// Returns the number of sub-quantizers.
int32_t CheckQuantizer(ModelReader& r, int64_t dim, absl::string_view what) {
  const auto qdim = r.Read<int32_t>(what);
  const auto nsubq = r.Read<int32_t>(what);
  const auto dsub = r.Read<int32_t>(what);
  const auto lastdsub = r.Read<int32_t>(what);
  if (!r.ok()) return 0;
  if (qdim != dim || dsub < 1 || dsub > dim) {
    r.Fail(absl::StrCat(what, " of dimension ", qdim, " and sub-dimension ", dsub,
                        " for vectors of ", dim));
    return 0;
  }
  const int32_t expected_nsubq = (qdim + dsub - 1) / dsub;
  const int32_t expected_last = qdim % dsub == 0 ? dsub : qdim % dsub;
  if (nsubq != expected_nsubq || lastdsub != expected_last) {
    r.Fail(absl::StrCat(what, " has ", nsubq, " sub-quantizers (last ", lastdsub,
                               "), its dimensions make ", expected_nsubq, " (last ",
                        expected_last, ")"));
    return 0;
  }
  r.Floats(int64_t{qdim} * kCentroidsPerSubquantizer, what);
  return nsubq;
}

// A dense or quantized matrix of exactly `rows` x `dim`.
void CheckMatrix(ModelReader& r, bool quantized, int64_t rows, int32_t dim,
                 absl::string_view what) {
  const bool qnorm = quantized && r.Bool(absl::StrCat(what, " norm flag"));
  const auto m = r.Read<int64_t>(what);
  const auto n = r.Read<int64_t>(what);
  if (!r.ok()) return;
  if (m != rows || n != dim) {
    return r.Fail(absl::StrCat(what, " is ", m, " x ", n, ", the model needs ", rows, " x ",
                               dim));
  }
  if (!quantized) return r.Floats(m * n, what);
  const auto codesize = r.Read<int32_t>(what);
  r.Skip(codesize, absl::StrCat(what, " codes"));
  const int32_t nsubq = CheckQuantizer(r, dim, absl::StrCat(what, " quantizer"));
  if (!r.ok()) return;
  if (codesize != m * nsubq) {
    return r.Fail(absl::StrCat(what, " has ", codesize, " code bytes for ", m, " rows of ",
                               nsubq, " sub-quantizers"));
  }
  if (qnorm) {
    r.Skip(m, absl::StrCat(what, " norm codes"));
    CheckQuantizer(r, 1, absl::StrCat(what, " norm quantizer"));
  }
}

}  // namespace

absl::Status CheckFastTextModel(absl::string_view bytes) {
  if (bytes.size() > kMaxClassifierModelBytes) {
    return absl::InvalidArgumentError(absl::StrCat("classifier model: ", bytes.size(),
                                                   " bytes, the limit is ",
                                                   kMaxClassifierModelBytes));
  }
  ModelReader r(bytes);
  if (r.Read<int32_t>("the magic number") != kMagic && r.ok()) {
    r.Fail("not a fastText model file (wrong magic number)");
  }
  const auto version = r.Read<int32_t>("the version");
  if (r.ok() && version != kVersion) {
    r.Fail(absl::StrCat("fastText format version ", version, ", only ", kVersion,
                        " (fastText 0.9) is read"));
  }
  Header h;
  if (r.ok()) CheckArgs(r, &h);
  const DictionaryShape dict = r.ok() ? CheckDictionary(r, h) : DictionaryShape{};
  const bool quant_input = r.Bool("the quantized-input flag");
  if (r.ok() && !quant_input && dict.pruned) r.Fail("a pruned dictionary over a dense matrix");
  CheckMatrix(r, quant_input, dict.input_rows, h.dim, "the input matrix");
  // The output matrix is quantized only when the input is too (FastText::loadModel).
  const bool qout = r.Bool("the quantized-output flag");
  CheckMatrix(r, quant_input && qout, dict.labels, h.dim, "the output matrix");
  if (r.ok() && r.remaining() != 0) r.Fail(absl::StrCat(r.remaining(), " bytes after the model"));
  return r.status();
}

}  // namespace llmrouter::decision
