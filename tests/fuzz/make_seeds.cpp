// fuzz-seeds OUT [PYDICOM_DIR]: a small seed corpus per fuzz target, made
// with the project's own writers (and pydicom's DICOM files when given), so
// the fuzzers start from valid files and mutate from there.
#include "CsaWriter.h"
#include "core/Volume.h"
#include "core/io/Npz.h"
#include "models/BundleCheck.h"
#include "models/Safetensors.h"
#ifdef RLLM_SEEDS_WITH_ITK
#include "core/io/ItkIo.h"
#endif

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>

namespace fs = std::filesystem;
using namespace rllm;

namespace {

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeSeed(const fs::path& folder, const std::string& name, const std::string& bytes) {
    fs::create_directories(folder);
    std::ofstream(folder / name, std::ios::binary) << bytes;
}

nlohmann::json tinyDescription(const std::string& booster) {
    nlohmann::json d;
    d["model"] = {{"dim", 8},       {"depth", 1},      {"heads", 2},
                  {"mlp_ratio", 2}, {"image_size", 8}, {"patch", 4},
                  {"channels", 1},  {"classes", 2},    {"volumetric", false}};
    d["task"] = "binary-class";
    d["class_names"] = {"no", "yes"};
    d["input"] = {{"scale", 1.0 / 255}, {"mean", 0.5}, {"std", 0.5}};
    if (booster == "mlp") d["booster"] = {{"mode", "mlp"}, {"llm_dim", 4}};
    if (booster == "in")
        d["booster"] = {{"mode", "in"},
                        {"llm_dim", 4},
                        {"llm",
                         {{"layers", {0}},
                          {"final_norm", "unit"},
                          {"architecture",
                           {{"model_type", "llama"},
                            {"dim", 4},
                            {"heads", 2},
                            {"kv_heads", 1},
                            {"ffn", 8},
                            {"eps", 1e-5},
                            {"qkv_bias", false}}}}}};
    return d;
}

std::string safetensorsBytes(const std::vector<NamedTensor>& tensors,
                             const std::map<std::string, std::string>& metadata,
                             const fs::path& scratch) {
    writeSafetensors(scratch.string(), tensors, metadata);
    return readFile(scratch);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: fuzz-seeds OUT [PYDICOM_DIR]\n";
        return 2;
    }
    const fs::path out = argv[1];
    const fs::path scratch = out / "scratch";
    fs::create_directories(scratch);

    // npz (MedMNIST layout) and a bare .npy header.
    std::vector<NpzMember> members;
    for (const char* split : {"train", "val", "test"}) {
        NpzMember images{std::string(split) + "_images", {2, 8, 8}, std::vector<uint8_t>(128, 7)};
        NpzMember labels{std::string(split) + "_labels", {2, 1}, {0, 1}};
        members.push_back(images);
        members.push_back(labels);
    }
    writeNpzUint8((scratch / "a.npz").string(), members);
    writeSeed(out / "fuzz_npz", "medmnist.npz", readFile(scratch / "a.npz"));
    writeNpyFloat32((scratch / "a.npy").string(), {2, 3}, {1, 2, 3, 4, 5, 6});
    writeSeed(out / "fuzz_npz", "header.npy", "N" + readFile(scratch / "a.npy"));

    // Bundles and their descriptions.
    for (const std::string booster : {"", "mlp", "in"}) {
        const nlohmann::json d = tinyDescription(booster);
        std::vector<NamedTensor> tensors;
        for (const auto& [name, shape] : expectedBundleTensors(d)) {
            int64_t count = 1;
            for (int64_t s : shape) count *= s;
            tensors.push_back({name, shape, std::vector<float>(size_t(count), 0.25f)});
        }
        const std::string label = booster.empty() ? "baseline" : booster;
        writeSeed(
            out / "fuzz_safetensors", label + ".safetensors",
            safetensorsBytes(tensors, {{"rllm_bundle", d.dump()}}, scratch / "b.safetensors"));
        writeSeed(out / "fuzz_bundle_description", label + ".json", d.dump());
    }

    // llama2.c (dim 8, 1 layer, 2 heads, vocab 4, seq 2) and a Hugging Face folder.
    {
        const int32_t h[7] = {8, 16, 1, 2, 2, 4, 2};
        const uint64_t d = 8, f = 16;
        const uint64_t floats = 4 * d + d + 4 * d * d + d + 3 * f * d + d + 2 * (d / 2);
        std::string bytes(reinterpret_cast<const char*>(h), sizeof h);
        bytes += std::string(floats * 4, '\0');
        writeSeed(out / "fuzz_llm", "llama2c.bin", "L" + bytes);
        const std::string config = R"({"model_type": "llama", "hidden_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
            "intermediate_size": 16})";
        std::vector<NamedTensor> weights;
        auto add = [&](const std::string& name, std::vector<int64_t> shape) {
            int64_t count = 1;
            for (int64_t s : shape) count *= s;
            weights.push_back({name, shape, std::vector<float>(size_t(count), 0.1f)});
        };
        const std::string p = "model.layers.0.";
        add(p + "input_layernorm.weight", {8});
        for (const char* m : {"q_proj", "k_proj", "v_proj", "o_proj"})
            add(p + "self_attn." + m + ".weight", {8, 8});
        add(p + "post_attention_layernorm.weight", {8});
        add(p + "mlp.gate_proj.weight", {16, 8});
        add(p + "mlp.up_proj.weight", {16, 8});
        add(p + "mlp.down_proj.weight", {8, 16});
        add("model.norm.weight", {8});
        nlohmann::json index;
        for (const NamedTensor& t : weights) index["weight_map"][t.name] = "model.safetensors";
        const std::string shard = safetensorsBytes(weights, {}, scratch / "hf.safetensors");
        writeSeed(out / "fuzz_llm", "hf_index",
                  "H" + config + "\n--\n" + index.dump() + "\n--\n" + shard);
        writeSeed(out / "fuzz_llm", "hf_single", "H" + config + "\n--\n\n--\n" + shard);
    }

    // GGUF v3 (llama, dim 32, 1 layer, 2 heads, ffn 32): Q4_0, Q4_1, Q8_0,
    // F16 and F32 tensors, zero bytes, 32-byte alignment.
    {
        std::string meta, infos, data;
        auto put = [](std::string& s, auto v) {
            s.append(reinterpret_cast<const char*>(&v), sizeof v);
        };
        auto text = [&](std::string& s, const std::string& t) {
            put(s, uint64_t(t.size()));
            s += t;
        };
        int keys = 0;
        auto key = [&](const std::string& k, uint32_t type) {
            text(meta, k);
            put(meta, type);
            ++keys;
        };
        key("general.architecture", 8);
        text(meta, "llama");
        for (const char* k : {"llama.embedding_length", "llama.feed_forward_length"}) {
            key(k, 4);
            put(meta, uint32_t(32));
        }
        key("llama.block_count", 4);
        put(meta, uint32_t(1));
        key("llama.attention.head_count", 4);
        put(meta, uint32_t(2));
        key("llama.attention.layer_norm_rms_epsilon", 6);
        put(meta, 1e-5f);
        int tensors = 0;
        auto tensor = [&](const std::string& name, std::vector<uint64_t> ggufDims, uint32_t type,
                          uint64_t bytes) {
            while (data.size() % 32) data.push_back('\0');
            text(infos, name);
            put(infos, uint32_t(ggufDims.size()));
            for (uint64_t d : ggufDims) put(infos, d);
            put(infos, type);
            put(infos, uint64_t(data.size()));
            data += std::string(bytes, '\0');
            ++tensors;
        };
        const uint64_t q40 = 32 / 32 * 18 * 32, q41 = 32 / 32 * 20 * 32, q80 = 32 / 32 * 34 * 32;
        tensor("blk.0.attn_norm.weight", {32}, 0, 128);
        tensor("blk.0.attn_q.weight", {32, 32}, 2, q40);
        tensor("blk.0.attn_k.weight", {32, 32}, 3, q41);
        tensor("blk.0.attn_v.weight", {32, 32}, 8, q80);
        tensor("blk.0.attn_output.weight", {32, 32}, 1, 2048);
        tensor("blk.0.ffn_norm.weight", {32}, 0, 128);
        tensor("blk.0.ffn_gate.weight", {32, 32}, 2, q40);
        tensor("blk.0.ffn_up.weight", {32, 32}, 3, q41);
        tensor("blk.0.ffn_down.weight", {32, 32}, 8, q80);
        tensor("output_norm.weight", {32}, 0, 128);
        std::string file = "GGUF";
        put(file, uint32_t(3));
        put(file, uint64_t(tensors));
        put(file, uint64_t(keys));
        file += meta + infos;
        while (file.size() % 32) file.push_back('\0');
        writeSeed(out / "fuzz_llm", "model.gguf", "L" + file + data);
    }

    // The byte-level checks: a MetaImage header, a JPEG 2000 codestream, UTF-8 text.
    const std::string mha =
        "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\n"
        "ElementSpacing = 1 1 1\nElementDataFile = LOCAL\n" +
        std::string(8, '\1');
    writeSeed(out / "fuzz_input_checks", "mha", std::string(1, char(2)) + mha);
    {
        // SOC, SIZ for 4 x 3 pixels with one 8-bit component, EOC.
        const uint8_t siz[] = {0xFF, 0x4F, 0xFF, 0x51, 0x00, 41, 0x00, 0x00, 0, 0,    0,   4,
                               0,    0,    0,    3,    0,    0,  0,    0,    0, 0,    0,   0,
                               0,    0,    0,    4,    0,    0,  0,    3,    0, 0,    0,   0,
                               0,    0,    0,    0,    0,    1,  7,    1,    1, 0xFF, 0xD9};
        std::string j2k(reinterpret_cast<const char*>(siz), sizeof siz);
        writeSeed(out / "fuzz_input_checks", "j2k",
                  std::string{char(3), char(2), char(3), char(1)} + j2k);
    }
    writeSeed(out / "fuzz_input_checks", "labels_csv",
              std::string(1, char(6)) +
                  "file,label\ncase0.png,0\ncase1.png,\"normal, benign\"\n\"a \"\"b\"\".png\",1\n");
    writeSeed(out / "fuzz_input_checks", "utf8",
              std::string(1, char(4)) + "r\xc3\xa9sum\xc3\xa9 \xff");
    {
        const std::vector<uint8_t> csa = rllm::test::csaHeader(
            {{"NumberOfImagesInMosaic", {"30"}}, {"SliceNormalVector", {"0.1", "-0.2", "0.97"}}});
        writeSeed(out / "fuzz_input_checks", "csa",
                  std::string(1, char(5)) + std::string(csa.begin(), csa.end()));
    }
    writeSeed(out / "fuzz_image_reader", "mha", std::string(1, char(3)) + mha);

#ifdef RLLM_SEEDS_WITH_ITK
    Volume volume({6, 5, 4}, 1);
    for (size_t i = 0; i < volume.voxels().size(); ++i) volume.voxels()[i] = float(i);
    writeNifti(volume, (scratch / "a.nii").string());
    writeNifti(volume, (scratch / "a.nii.gz").string());
    writePng(std::vector<uint8_t>(30, 9), 6, 5, 1, (scratch / "a.png").string());
    const std::string png = readFile(scratch / "a.png"), nii = readFile(scratch / "a.nii");
    writeSeed(out / "fuzz_image_reader", "png", std::string(1, char(0)) + png);
    writeSeed(out / "fuzz_image_reader", "nii", std::string(1, char(1)) + nii);
    writeSeed(out / "fuzz_image_reader", "niigz",
              std::string(1, char(2)) + readFile(scratch / "a.nii.gz"));
    writeSeed(out / "fuzz_input_checks", "png", std::string(1, char(0)) + png);
    writeSeed(out / "fuzz_input_checks", "nii", std::string(1, char(1)) + nii);
#endif
    if (argc > 2) {
        const fs::path pydicom = argv[2];
        for (const char* name :
             {"CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_jp2klossless.dcm",
              "rtdose_1frame.dcm", "MR_small_RLE.dcm"}) {
            const std::string bytes = readFile(pydicom / name);
            if (bytes.empty()) continue;
            writeSeed(out / "fuzz_image_reader", name, std::string(1, char(5)) + bytes);
            writeSeed(out / "fuzz_dicom_series", name, bytes);
        }
        const std::string ct = readFile(pydicom / "CT_small.dcm");
        if (!ct.empty())
            writeSeed(out / "fuzz_dicom_series", "two",
                      ct + "\n--\n" + readFile(pydicom / "MR_small.dcm"));
    }
    fs::remove_all(scratch);
    return 0;
}
