// Bad input, as it lands on a hospital's disk: every kind of file the tools
// read, cut short, bit-flipped and overwritten, and the specific defects an
// outside mutation campaign found (headers that lie about sizes, NaN
// geometry and rescales, absurd bundle descriptions, paths that climb out of
// a checkpoint folder, pipes, devices, file names that are not UTF-8).
//
// Each input goes through the real `rllm` binary in its own process, with
// its address space limited to 3 GB and a time limit, so a crash, a hang or
// a huge allocation is seen as what it is. Every run must end with exit 0
// (the mutation was harmless; --json output must then parse) or exit 1 with
// a message that names the file; never a signal, a timeout, exit 2 or
// "out of memory".

#include "TestData.h"

#include "core/Volume.h"
#include "core/io/ItkIo.h"
#include "core/io/Npz.h"
#include "models/Safetensors.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <QDir>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

using namespace rllm;

namespace {

struct Job {
    QStringList arguments;  // after "rllm"
    QString file;           // the input whose name a refusal must carry
    bool mustRefuse = false;
    bool json = false;
    QString what;
};

struct Outcome {
    bool finished = false, crashed = false;
    int exitCode = -1;
    QByteArray out, err;
};

// Runs the jobs two at a time (the machine has two cores) and checks each.
class CampaignRunner {
  public:
    explicit CampaignRunner(int timeoutMs = 60000) : timeoutMs_(timeoutMs) {}

    QStringList run(const std::vector<Job>& jobs) {
        QStringList failures;
        for (size_t i = 0; i < jobs.size(); i += 2) {
            QProcess processes[2];
            const size_t count = std::min<size_t>(2, jobs.size() - i);
            for (size_t k = 0; k < count; ++k) start(processes[k], jobs[i + k]);
            for (size_t k = 0; k < count; ++k) {
                Outcome o;
                o.finished = processes[k].waitForFinished(timeoutMs_);
                if (!o.finished) {
                    processes[k].kill();
                    processes[k].waitForFinished(5000);
                }
                o.crashed = processes[k].exitStatus() == QProcess::CrashExit;
                o.exitCode = processes[k].exitCode();
                o.out = processes[k].readAllStandardOutput();
                o.err = processes[k].readAllStandardError();
                const QString problem = judge(jobs[i + k], o);
                if (!problem.isEmpty()) failures << problem;
                ++runs_;
                if (o.exitCode == 1) ++refused_;
            }
        }
        return failures;
    }
    int runs() const { return runs_; }
    int refused() const { return refused_; }

  private:
    static void start(QProcess& process, const Job& job) {
        // The address-space limit turns a runaway allocation into a failure
        // this test sees, instead of a machine that swaps.
        QStringList arguments{"-c", "ulimit -v 3000000; exec \"$0\" \"$@\"", test::binary("rllm")};
        arguments << job.arguments;
        process.start("bash", arguments);
    }

    static QString judge(const Job& job, const Outcome& o) {
        const QString head = job.what + " (" + job.arguments.join(' ') + "): ";
        if (!o.finished) return head + "did not finish in time (hang?)";
        if (o.crashed) return head + "crashed: " + QString::fromUtf8(o.err.right(300));
        if (o.exitCode == 0) {
            if (job.mustRefuse) return head + "was accepted, but must be refused";
            if (job.json && QJsonDocument::fromJson(o.out).isNull())
                return head + "printed invalid JSON";
            return {};
        }
        if (o.exitCode != 1)
            return head + "exit " + QString::number(o.exitCode) + ": " +
                   QString::fromUtf8(o.err.right(300));
        if (o.err.contains("out of memory") || o.err.contains("bad_alloc"))
            return head + "ran out of memory instead of refusing: " + QString::fromUtf8(o.err);
        const QByteArray name = QFile::encodeName(QFileInfo(job.file).fileName());
        if (!o.err.contains(name))
            return head + "refused without naming the file: " + QString::fromUtf8(o.err);
        return {};
    }

    int timeoutMs_;
    int runs_ = 0, refused_ = 0;
};

QByteArray bytesOf(const QString& path) {
    return test::readAll(path);
}

void put32be(QByteArray& b, int at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = char((v >> (24 - 8 * i)) & 0xFF);
}

// The classic byte-level mutations of one seed: truncations, bit flips
// anywhere and in the header, and 32-bit overwrites with boundary values.
std::vector<QByteArray> mutationsOf(const QByteArray& seed, uint32_t rngSeed) {
    std::vector<QByteArray> out;
    for (double fraction : {0.0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99})
        out.push_back(seed.left(int(seed.size() * fraction)));
    std::mt19937 rng(rngSeed);
    for (int i = 0; i < 8; ++i) {
        QByteArray b = seed;
        const int limit = i < 4 ? int(b.size()) : std::min<int>(int(b.size()), 512);
        const int at = int(rng() % uint32_t(limit));
        b[at] = char(b[at] ^ (1 << (rng() % 8)));
        out.push_back(b);
    }
    const uint32_t values[] = {0xFFFFFFFFu, 0x7FFFFFFFu, 0u, 0x80000000u};
    for (uint32_t v : values) {
        QByteArray b = seed;
        const int at = int(rng() % uint32_t(std::max(1, std::min<int>(int(b.size()) - 4, 508))));
        put32be(b, at, v);
        out.push_back(b);
    }
    return out;
}

// A PNG chunk with its CRC.
QByteArray pngChunk(const char* type, const QByteArray& data) {
    QByteArray c(4, 0);
    put32be(c, 0, uint32_t(data.size()));
    QByteArray body = QByteArray(type, 4) + data;
    QByteArray crc(4, 0);
    put32be(crc, 0, uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
    return c + body + crc;
}

void writeMetaImage(const QString& headerPath, const QString& dataFile, const QString& dims,
                    const QByteArray& voxels) {
    QByteArray header = "ObjectType = Image\nNDims = 3\nDimSize = " + dims.toUtf8() +
                        "\nElementType = MET_UCHAR\nElementSpacing = 1 1 1\nElementDataFile = " +
                        dataFile.toUtf8() + "\n";
    if (dataFile == "LOCAL") header += voxels;
    test::writeAll(headerPath, header);
}

// A tiny llama2.c checkpoint (dim 16, 1 layer, 2 heads) with random weights.
void writeLlama2c(const QString& path) {
    const int32_t dim = 16, hidden = 32, layers = 1, heads = 2, kvHeads = 2, vocab = 8, seq = 4;
    const uint64_t d = dim, L = layers, f = hidden;
    const uint64_t floats =
        vocab * d + L * d + 4 * L * d * d + L * d + 3 * L * f * d + d + uint64_t(seq) * (d / heads);
    std::ofstream out(path.toStdString(), std::ios::binary);
    const int32_t header[7] = {dim, hidden, layers, heads, kvHeads, vocab, seq};
    out.write(reinterpret_cast<const char*>(header), sizeof header);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.f, 0.1f);
    for (uint64_t i = 0; i < floats; ++i) {
        const float v = normal(rng);
        out.write(reinterpret_cast<const char*>(&v), 4);
    }
}

}  // namespace

class TestRobustness : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString npz_, baseline_, booster_, llama_, ct_;
    std::vector<QString> imageSeeds_;

    QString path(const QString& name) const { return dir_.filePath(name); }

    // A copy of `bytes` under `name` in a folder of its own.
    QString place(const QString& name, const QByteArray& bytes) {
        const QString p = path(name);
        test::writeAll(p, bytes);
        return p;
    }

    // Rewrites a bundle's description (keeping its tensors) through `edit`.
    QString editedBundle(const QString& source, const QString& name,
                         const std::function<void(nlohmann::json&)>& edit) {
        SafetensorsFile file(source.toStdString());
        nlohmann::json d = nlohmann::json::parse(file.metadata().at("rllm_bundle"));
        edit(d);
        std::vector<NamedTensor> tensors;
        for (const auto& [tensorName, info] : file.tensors())
            tensors.push_back({tensorName, info.shape, file.readFloat(tensorName)});
        const QString target = path(name);
        writeSafetensors(target.toStdString(), tensors, {{"rllm_bundle", d.dump()}});
        return target;
    }

  private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        // Images: PNG, NIfTI (plain and gzip), MetaImage (one file and two).
        Volume volume({16, 12, 8}, 1);
        for (size_t i = 0; i < volume.voxels().size(); ++i) volume.voxels()[i] = float(i % 97);
        writeNifti(volume, path("seed.nii").toStdString());
        writeNifti(volume, path("seed.nii.gz").toStdString());
        std::vector<uint8_t> pixels(40 * 30);
        for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 7);
        writePng(pixels, 40, 30, 1, path("seed.png").toStdString());
        QByteArray voxels(16 * 12 * 8, 0);
        for (int i = 0; i < voxels.size(); ++i) voxels[i] = char(i % 251);
        writeMetaImage(path("seed.mha"), "LOCAL", "16 12 8", voxels);
        writeMetaImage(path("seed.mhd"), "seed.raw", "16 12 8", {});
        test::writeAll(path("seed.raw"), voxels);
        imageSeeds_ = {path("seed.nii"), path("seed.nii.gz"), path("seed.png"), path("seed.mha"),
                       path("seed.mhd")};
        // DICOM: pydicom's real files (uncompressed, JPEG 2000, RLE, multi-frame dose).
        for (const char* name : {"CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm",
                                 "MR_small_jp2klossless.dcm", "rtdose.dcm", "MR_small_RLE.dcm"}) {
            const QString source = test::pydicomFile(name);
            if (!QFile::exists(source)) QSKIP("pydicom's test files are missing");
            const QString copy = path(name);
            QFile::copy(source, copy);
            imageSeeds_.push_back(copy);
        }
        ct_ = path("CT_small.dcm");
        // A MedMNIST-shaped archive.
        std::vector<NpzMember> members;
        for (const char* split : {"train", "val", "test"}) {
            const int n = 24;
            NpzMember images{std::string(split) + "_images", {n, 28, 28}, {}};
            NpzMember labels{std::string(split) + "_labels", {n, 1}, {}};
            for (int c = 0; c < n; ++c) {
                labels.values.push_back(uint8_t(c % 2));
                for (int p = 0; p < 28 * 28; ++p)
                    images.values.push_back(uint8_t((c % 2) * 120 + (p * 13 + c) % 100));
            }
            members.push_back(images);
            members.push_back(labels);
        }
        npz_ = path("seedmnist.npz");
        writeNpzUint8(npz_.toStdString(), members);
        // Bundles: a baseline and a booster with a tiny frozen LLaMA block.
        llama_ = path("tiny_llama.bin");
        writeLlama2c(llama_);
        baseline_ = path("baseline.safetensors");
        booster_ = path("booster.safetensors");
        for (const QStringList& extra :
             {QStringList{"--out", baseline_},
              QStringList{"--out", booster_, "--booster", "in", "--llm", llama_}}) {
            QProcess train;
            train.start(test::binary("rllm"),
                        QStringList{"train", "--data", npz_, "--epochs", "1", "--depth", "1",
                                    "--batch", "8", "--threads", "1"} +
                            extra);
            QVERIFY(train.waitForFinished(300000));
            QVERIFY2(train.exitCode() == 0, train.readAllStandardError().constData());
        }
    }

    // Byte-level mutations of every reader's inputs.
    void mutatedFilesAreRefusedOrRead() {
        std::vector<Job> jobs;
        uint32_t seedIndex = 0;
        auto addMutations = [&](const QString& seedPath, const QStringList& command, bool json) {
            const QByteArray seed = bytesOf(seedPath);
            const QFileInfo info(seedPath);
            int n = 0;
            for (const QByteArray& mutated : mutationsOf(seed, ++seedIndex)) {
                // A folder per mutation: a .mhd keeps finding its .raw.
                const QString folder = path(QString("m%1_%2").arg(seedIndex).arg(n++));
                QDir().mkpath(folder);
                const QString target = folder + "/" + info.fileName();
                test::writeAll(target, mutated);
                if (info.suffix() == "mhd") QFile::copy(path("seed.raw"), folder + "/seed.raw");
                QStringList arguments = command;
                arguments.replaceInStrings("FILE", target);
                jobs.push_back({arguments, target, false, json, info.fileName()});
            }
        };
        for (const QString& seed : imageSeeds_)
            addMutations(seed, {"info", "FILE", "--json"}, true);
        addMutations(npz_, {"info", "FILE", "--json"}, true);
        addMutations(baseline_, {"bundle", "info", "FILE"}, false);
        addMutations(booster_, {"predict", "FILE", npz_, "--index", "1", "--threads", "1"}, false);
        addMutations(llama_, {"llm", "info", "FILE"}, false);
        // The raw file of a two-file MetaImage.
        CampaignRunner runner;
        const QStringList failures = runner.run(jobs);
        qInfo("%d mutated inputs, %d refused with exit 1, %lld failures", runner.runs(),
              runner.refused(), static_cast<long long>(failures.size()));
        QVERIFY2(failures.isEmpty(), qPrintable(failures.join("\n")));
        QVERIFY(runner.refused() > runner.runs() / 4);  // the mutations do bite
    }

    // The classes of defects the outside campaign found, each made on purpose.
    void knownDefectsAreRefused() {
        std::vector<Job> jobs;
        auto refuse = [&](const QString& file, const QStringList& arguments, const QString& what) {
            jobs.push_back({arguments, file, true, false, what});
        };
        auto info = [&](const QString& file, const QString& what) {
            refuse(file, {"info", file, "--json"}, what);
        };

        // PNG: 0 x 0 in a header with a valid CRC; cut before IEND.
        {
            QByteArray ihdr(13, 0);
            ihdr[8] = 8;  // bit depth 8, colour type 0 (grey)
            const QByteArray png = QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", ihdr) +
                                   pngChunk("IDAT", QByteArray::fromHex("789c030000000001")) +
                                   pngChunk("IEND", {});
            info(place("zero_size.png", png), "PNG declaring 0 x 0");
            const QByteArray seed = bytesOf(path("seed.png"));
            info(place("cut.png", seed.left(seed.size() - 12)), "PNG without IEND");
            info(place("half.png", seed.left(seed.size() / 2)), "PNG cut in half");
        }
        // NIfTI: NaN in the sform and the qform, voxels past the end, NaN / inf slope.
        {
            const QByteArray seed = bytesOf(path("seed.nii"));
            auto withFloat = [&](const QString& name, int offset, float value, int shortOffset = -1,
                                 int16_t shortValue = 0) {
                QByteArray b = seed;
                std::memcpy(b.data() + offset, &value, 4);
                if (shortOffset >= 0) std::memcpy(b.data() + shortOffset, &shortValue, 2);
                return place(name, b);
            };
            info(withFloat("nan_sform.nii", 280, NAN, 254, 1), "NIfTI sform NaN");
            info(withFloat("nan_qform.nii", 256, NAN, 252, 1), "NIfTI qform NaN");
            info(withFloat("far_offset.nii", 108, 1e7f), "NIfTI vox_offset past the end");
            info(withFloat("nan_slope.nii", 112, NAN), "NIfTI scl_slope NaN");
            info(withFloat("inf_slope.nii", 112, INFINITY), "NIfTI scl_slope infinite");
            info(withFloat("nan_spacing.nii", 80, NAN), "NIfTI pixdim NaN");
        }
        // MetaImage: a header pointing at a 5 GB (sparse) raw file; sizes that overflow.
        {
            QFile big(path("huge.raw"));
            QVERIFY(big.open(QIODevice::WriteOnly));
            QVERIFY(big.resize(qint64(5) << 30));  // sparse: no disk used
            big.close();
            writeMetaImage(path("huge.mhd"), "huge.raw", "2048 2048 1250", {});
            info(path("huge.mhd"), "MetaImage over a 5 GB raw file");
            writeMetaImage(path("overflow.mha"), "LOCAL", "4294967296 4294967296 4294967296",
                           QByteArray(64, 1));
            info(path("overflow.mha"), "MetaImage whose size overflows");
            writeMetaImage(path("climb.mhd"), "../../../../dev/zero", "16 12 8", {});
            info(path("climb.mhd"), "MetaImage reading a device");
        }
        // DICOM: frames the pixel data does not hold, a lying JPEG 2000 size,
        // NaN and infinite rescales, a JPEG 2000 stream cut short.
        {
            auto edited = [&](const QString& source, const QString& name,
                              const std::function<void(DcmDataset&)>& edit) {
                DcmFileFormat file;
                if (file.loadFile(source.toStdString().c_str()).bad()) return QString();
                file.loadAllDataIntoMemory();
                edit(*file.getDataset());
                const QString target = path(name);
                const E_TransferSyntax xfer = file.getDataset()->getOriginalXfer();
                if (file.saveFile(target.toStdString().c_str(), xfer).bad()) return QString();
                return target;
            };
            const QString frames = edited(ct_, "frames65536.dcm", [](DcmDataset& ds) {
                ds.putAndInsertString(DCM_NumberOfFrames, "65536");
            });
            QVERIFY(!frames.isEmpty());
            info(frames, "DICOM NumberOfFrames 65536");
            const QString rows = edited(path("JPEG2000.dcm"), "j2k_rows1.dcm",
                                        [](DcmDataset& ds) { ds.putAndInsertUint16(DCM_Rows, 1); });
            QVERIFY(!rows.isEmpty());
            info(rows, "JPEG 2000 DICOM with Rows = 1");
            for (const char* slope : {"NaN", "inf", "0"}) {
                const QString name = QString("slope_%1.dcm").arg(slope);
                const QString file = edited(ct_, name, [&](DcmDataset& ds) {
                    ds.putAndInsertString(DCM_RescaleSlope, slope);
                });
                QVERIFY(!file.isEmpty());
                info(file, QString("DICOM RescaleSlope %1").arg(slope));
            }
            const QByteArray j2k = bytesOf(path("JPEG2000.dcm"));
            info(place("j2k_cut.dcm", j2k.left(j2k.size() - 40)), "JPEG 2000 DICOM cut short");
        }
        // npz: an entry that claims 4 GB uncompressed.
        {
            QByteArray b = bytesOf(npz_);
            const QByteArray central("PK\x01\x02", 4);
            int at = b.indexOf(central);
            QVERIFY(at >= 0);
            const uint32_t huge = 0xFFFFFF00u;
            std::memcpy(b.data() + at + 24, &huge, 4);  // uncompressed size
            const QString file = place("claims4gb.npz", b);
            info(file, "npz entry claiming 4 GB");
            refuse(file, {"eval", baseline_, "--data", file, "--threads", "1"},
                   "eval on an npz entry claiming 4 GB");
        }
        // Pipes and devices never block.
        {
            const QString fifo = path("pipe.nii");
            QCOMPARE(::mkfifo(fifo.toStdString().c_str(), 0600), 0);
            info(fifo, "a FIFO");
            refuse(fifo, {"bundle", "info", fifo}, "a FIFO as a bundle");
            refuse(fifo, {"llm", "info", fifo}, "a FIFO as an LLM");
            info("/dev/zero", "a device");
        }
        // Bundles whose description disagrees with their tensors or is absurd.
        {
            using Edit = std::function<void(nlohmann::json&)>;
            const std::vector<std::pair<QString, Edit>> edits = {
                {"heads0", [](nlohmann::json& d) { d["model"]["heads"] = 0; }},
                {"patch0", [](nlohmann::json& d) { d["model"]["patch"] = 0; }},
                {"depth1e9", [](nlohmann::json& d) { d["model"]["depth"] = 1000000000; }},
                {"channels1e5", [](nlohmann::json& d) { d["model"]["channels"] = 100000; }},
                {"dimfloat", [](nlohmann::json& d) { d["model"]["dim"] = 1e300; }},
                {"classnames", [](nlohmann::json& d) { d["class_names"].push_back("extra"); }},
                {"classes", [](nlohmann::json& d) { d["model"]["classes"] = 5; }},
                {"llmheads0",
                 [](nlohmann::json& d) { d["booster"]["llm"]["architecture"]["heads"] = 0; }},
                {"llmkv3",
                 [](nlohmann::json& d) { d["booster"]["llm"]["architecture"]["kv_heads"] = 3; }},
                {"nomodel", [](nlohmann::json& d) { d.erase("model"); }},
                {"std0", [](nlohmann::json& d) { d["input"]["std"] = 0; }},
            };
            for (const auto& [name, edit] : edits) {
                const QString file = editedBundle(booster_, "bad_" + name + ".safetensors", edit);
                refuse(file, {"bundle", "info", file}, "bundle " + name);
                refuse(file, {"predict", file, npz_, "--threads", "1"}, "predict with " + name);
            }
        }
        // A Hugging Face index that points outside the checkpoint's folder.
        {
            const QString folder = path("hf");
            QDir().mkpath(folder);
            test::writeAll(folder + "/config.json",
                           R"({"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 1,
                               "num_attention_heads": 2, "intermediate_size": 32})");
            test::writeAll(folder + "/model.safetensors.index.json",
                           R"({"weight_map": {"model.norm.weight": "../../etc/passwd"}})");
            refuse(folder + "/model.safetensors.index.json", {"llm", "info", folder},
                   "HF index climbing out of its folder");
        }
        CampaignRunner runner;
        const QStringList failures = runner.run(jobs);
        qInfo("%d known defects tried, %lld not refused as they must be", runner.runs(),
              static_cast<long long>(failures.size()));
        QVERIFY2(failures.isEmpty(), qPrintable(failures.join("\n")));
    }

    // A file name that is not UTF-8 is named in --json output, not fatal.
    void nonUtf8FileNamesStayReadable() {
        const QByteArray name = QByteArray("ct_\xff\xfe.dcm");
        const QByteArray target = QFile::encodeName(dir_.path()) + "/" + name;
        QVERIFY(QFile::copy(ct_, QFile::decodeName(target)) ||
                QFile::exists(QFile::decodeName(target)));
        QProcess process;
        process.start(test::binary("rllm"), {"info", QFile::decodeName(target), "--json"});
        QVERIFY(process.waitForFinished(60000));
        QCOMPARE(process.exitCode(), 0);
        const QJsonDocument json = QJsonDocument::fromJson(process.readAllStandardOutput());
        QVERIFY(!json.isNull());
        QVERIFY2(json.toJson().contains("ct_"), json.toJson().constData());
    }
};

QTEST_GUILESS_MAIN(TestRobustness)
#include "test_robustness.moc"
