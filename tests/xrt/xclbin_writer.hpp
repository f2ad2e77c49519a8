// A minimal xclbin for the noop-shim tests, written at test time (no binary is committed).
//
// It holds only what XRT 2.13's xrt::xclbin and xrt::kernel read to open a kernel: MEM_TOPOLOGY
// (and its ASK_GROUP copy), IP_LAYOUT with one AP_CTRL_HS compute unit, CONNECTIVITY (and its
// ASK_GROUP copy) tying each buffer argument to a memory bank, and the EMBEDDED_METADATA XML that
// declares the kernel's arguments (names, register offsets, sizes, host types). There is no
// bitstream or PDI: the noop shim loads nothing, and a real device would reject this file.
//
// The layout mirrors an mlir-aie design: opcode, instruction buffer and its length, then data
// buffers; the instruction buffer is in bank 0 and data in bank 1, so group_id() differs by role.
#pragma once

#include <xclbin.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace qnn_xrt_test {

struct XclbinArg {
  std::string name;
  std::string type;  // host type: "uint64_t", "uint32_t", "char *", "void*"
  std::uint32_t size = 8;
  bool buffer = false;
  int bank = 1;  // memory bank of a buffer argument
};

struct XclbinSpec {
  std::string kernel = "MLIR_AIE";
  std::vector<XclbinArg> args;
  std::uint8_t uuid_seed = 1;  // distinct seeds give distinct xclbin uuids
};

// The argument list of mlir-aie's matmul xclbins: opcode, instr, ninstr, bo0..bo4.
inline XclbinSpec mlir_aie_spec(std::string kernel = "MLIR_AIE", std::uint8_t seed = 1) {
  XclbinSpec s;
  s.kernel = std::move(kernel);
  s.uuid_seed = seed;
  s.args = {{"opcode", "uint64_t", 8, false, 0}, {"instr", "char *", 8, true, 0}, {"ninstr", "uint32_t", 4, false, 0},
            {"bo0", "void*", 8, true, 1},        {"bo1", "void*", 8, true, 1},   {"bo2", "void*", 8, true, 1},
            {"bo3", "void*", 8, true, 1},        {"bo4", "void*", 8, true, 1}};
  return s;
}

namespace detail {
template <class T>
void append(std::vector<char>& out, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
inline std::string hex(std::uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}
}  // namespace detail

inline std::vector<char> make_xclbin(const XclbinSpec& spec) {
  // Sections, each as raw bytes.
  std::vector<char> mem;
  {
    const std::int32_t count = 2;
    detail::append(mem, count);
    mem.resize(8, 0);  // mem_data is 8-byte aligned after the count
    for (int bank = 0; bank < 2; ++bank) {
      mem_data d{};
      d.m_type = MEM_DDR4;
      d.m_used = 1;
      d.m_size = 1u << 20;  // KB
      d.m_base_address = static_cast<std::uint64_t>(bank) << 32;
      std::snprintf(reinterpret_cast<char*>(d.m_tag), sizeof d.m_tag, "bank%d", bank);
      detail::append(mem, d);
    }
  }
  std::vector<char> ips;
  {
    ip_data ip{};
    ip.m_type = IP_KERNEL;
    ip.properties = AP_CTRL_HS << IP_CONTROL_SHIFT;
    ip.m_base_address = 0x1000000;
    const std::string name = spec.kernel + ":" + spec.kernel;
    std::memcpy(ip.m_name, name.c_str(), std::min(name.size() + 1, sizeof ip.m_name));
    const std::int32_t count = 1;
    detail::append(ips, count);
    ips.resize(8, 0);
    detail::append(ips, ip);
  }
  std::vector<char> conn;
  {
    std::vector<connection> cs;
    for (std::size_t i = 0; i < spec.args.size(); ++i)
      if (spec.args[i].buffer) cs.push_back(connection{static_cast<std::int32_t>(i), 0, spec.args[i].bank});
    detail::append(conn, static_cast<std::int32_t>(cs.size()));
    for (const auto& c : cs) detail::append(conn, c);
  }
  std::string xml;
  {
    std::ostringstream x;
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<project name=\"qnn_noop_test\">\n"
      << " <platform vendor=\"qnn\" boardid=\"noop\" name=\"noop\" featureRomTime=\"0\">\n"
      << "  <version major=\"1\" minor=\"0\"/>\n"
      << "  <device name=\"fpga0\" fpgaDevice=\"noop\" addrWidth=\"0\">\n"
      << "   <core name=\"OCL_REGION_0\" target=\"bitstream\" type=\"clc_region\" numComputeUnits=\"1\">\n"
      << "    <kernel name=\"" << spec.kernel << "\" language=\"c\" vlnv=\"qnn:noop:" << spec.kernel
      << ":1.0\" preferredWorkGroupSizeMultiple=\"0\" workGroupSize=\"1\" interrupt=\"true\" "
      << "hwControlProtocol=\"ap_ctrl_hs\">\n"
      << "     <port name=\"S_AXI_CONTROL\" mode=\"slave\" range=\"0x1000\" dataWidth=\"32\" "
      << "portType=\"addressable\" base=\"0x0\"/>\n";
    std::uint64_t offset = 0x10;
    for (std::size_t i = 0; i < spec.args.size(); ++i) {
      const XclbinArg& a = spec.args[i];
      x << "     <arg name=\"" << a.name << "\" addressQualifier=\"" << (a.buffer ? 1 : 0) << "\" id=\"" << i
        << "\" port=\"" << (a.buffer ? "M_AXI_GMEM" : "S_AXI_CONTROL") << "\" size=\"" << detail::hex(a.size)
        << "\" offset=\"" << detail::hex(offset) << "\" hostOffset=\"0x0\" hostSize=\"" << detail::hex(a.size)
        << "\" type=\"" << a.type << "\"/>\n";
      offset += a.size;
    }
    x << "     <instance name=\"" << spec.kernel << "\">\n"
      << "      <addrRemap base=\"0x1000000\" port=\"S_AXI_CONTROL\"/>\n"
      << "     </instance>\n"
      << "    </kernel>\n"
      << "   </core>\n"
      << "  </device>\n"
      << " </platform>\n"
      << "</project>\n";
    xml = x.str();
  }

  struct Section {
    axlf_section_kind kind;
    const char* name;
    std::vector<char> data;
  };
  const std::vector<Section> sections = {
      {MEM_TOPOLOGY, "mem_topology", mem},
      {ASK_GROUP_TOPOLOGY, "group_topology", mem},
      {IP_LAYOUT, "ip_layout", ips},
      {CONNECTIVITY, "connectivity", conn},
      {ASK_GROUP_CONNECTIVITY, "group_connect", conn},
      {EMBEDDED_METADATA, "metadata", std::vector<char>(xml.begin(), xml.end())},
  };

  const std::size_t header = sizeof(axlf) + (sections.size() - 1) * sizeof(axlf_section_header);
  std::vector<axlf_section_header> headers;
  std::size_t offset = (header + 7) & ~std::size_t{7};
  for (const Section& s : sections) {
    axlf_section_header h{};
    h.m_sectionKind = s.kind;
    std::strncpy(h.m_sectionName, s.name, sizeof h.m_sectionName - 1);
    h.m_sectionOffset = offset;
    h.m_sectionSize = s.data.size();
    headers.push_back(h);
    offset = (offset + s.data.size() + 7) & ~std::size_t{7};
  }

  axlf top{};
  std::memcpy(top.m_magic, "xclbin2", 8);
  top.m_signature_length = -1;
  std::memset(top.reserved, 0xff, sizeof top.reserved);
  top.m_header.m_length = offset;
  top.m_header.m_versionMajor = 2;
  top.m_header.m_versionMinor = 13;
  top.m_header.m_mode = XCLBIN_FLAT;
  std::snprintf(reinterpret_cast<char*>(top.m_header.m_platformVBNV), sizeof top.m_header.m_platformVBNV,
                "qnn:noop:test:1.0");
  for (std::size_t i = 0; i < sizeof top.m_header.uuid; ++i)
    top.m_header.uuid[i] = static_cast<unsigned char>(spec.uuid_seed * 31 + i * 7 + 1);
  top.m_header.m_numSections = static_cast<std::uint32_t>(sections.size());
  top.m_sections[0] = headers[0];

  std::vector<char> out(offset, 0);
  std::memcpy(out.data(), &top, sizeof top);
  for (std::size_t i = 1; i < headers.size(); ++i)
    std::memcpy(out.data() + sizeof(axlf) + (i - 1) * sizeof(axlf_section_header), &headers[i],
                sizeof(axlf_section_header));
  for (std::size_t i = 0; i < sections.size(); ++i)
    std::memcpy(out.data() + headers[i].m_sectionOffset, sections[i].data.data(), sections[i].data.size());
  return out;
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace qnn_xrt_test
