/**
 * Nova's extra spec validators (nova.api.validation.extra_specs), applied from microversion
 * 2.86: a known key must carry a valid value, and an unknown key in a namespace Nova owns
 * (hw:, trait:, resources: …) is refused. Keys without a known namespace pass, so operators
 * may keep their own.
 */
import { invalid } from '../../errors.js';

type ValueRule =
  | { type: 'str'; pattern?: string; enum?: string[] }
  | { type: 'int'; min?: number; max?: number }
  | { type: 'bool' };

interface ExtraSpecRule {
  /** As Nova documents it, with {parameters}. */
  name: string;
  regex: RegExp;
  value: ValueRule;
}

/** The {parameters} Nova's spec names embed, with their patterns. */
const PARAMETERS: Record<string, string> = {
  group: '([a-zA-Z0-9_-]{1,64})?',
  num: '\\d+',
  filter: '(:\\w+)*',
  key: '.+',
  resource: '[A-Z0-9_]+',
  trait: '[A-Z0-9_]+',
};

const str = (extra: { pattern?: string; enum?: string[] } = {}): ValueRule => ({ type: 'str', ...extra });
const int = (min?: number, max?: number): ValueRule => ({ type: 'int', ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
const bool: ValueRule = { type: 'bool' };
const oneOf = (...values: string[]) => str({ enum: values });

const CPU_MASK = '\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*';
const SHARES_LEVEL = oneOf('custom', 'high', 'normal', 'low');
const TRAIT_VALUE = oneOf('required', 'forbidden');

/** os_traits' standard traits, as Nova's trait validators list them. */
const STANDARD_TRAITS = `
  COMPUTE_DEVICE_TAGGING COMPUTE_NODE COMPUTE_TRUSTED_CERTS COMPUTE_SAME_HOST_COLD_MIGRATE COMPUTE_RESCUE_BFV
  COMPUTE_ACCELERATORS COMPUTE_SOCKET_PCI_NUMA_AFFINITY COMPUTE_REMOTE_MANAGED_PORTS COMPUTE_MEM_BACKING_FILE
  COMPUTE_MANAGED_PCI_DEVICE COMPUTE_ARCH_AARCH64 COMPUTE_ARCH_PPC64LE COMPUTE_ARCH_MIPSEL COMPUTE_ARCH_S390X
  COMPUTE_ARCH_RISCV64 COMPUTE_ARCH_X86_64 COMPUTE_CONFIG_DRIVE_REGENERATION COMPUTE_EPHEMERAL_ENCRYPTION
  COMPUTE_EPHEMERAL_ENCRYPTION_PLAIN COMPUTE_EPHEMERAL_ENCRYPTION_LUKS COMPUTE_EPHEMERAL_ENCRYPTION_LUKSV2
  COMPUTE_FIRMWARE_BIOS COMPUTE_FIRMWARE_UEFI COMPUTE_GRAPHICS_MODEL_BOCHS COMPUTE_GRAPHICS_MODEL_CIRRUS
  COMPUTE_GRAPHICS_MODEL_GOP COMPUTE_GRAPHICS_MODEL_NONE COMPUTE_GRAPHICS_MODEL_QXL COMPUTE_GRAPHICS_MODEL_VGA
  COMPUTE_GRAPHICS_MODEL_VIRTIO COMPUTE_GRAPHICS_MODEL_VMVGA COMPUTE_GRAPHICS_MODEL_XEN COMPUTE_IMAGE_TYPE_AKI
  COMPUTE_IMAGE_TYPE_AMI COMPUTE_IMAGE_TYPE_ARI COMPUTE_IMAGE_TYPE_ISO COMPUTE_IMAGE_TYPE_QCOW2 COMPUTE_IMAGE_TYPE_RAW
  COMPUTE_IMAGE_TYPE_VDI COMPUTE_IMAGE_TYPE_VHD COMPUTE_IMAGE_TYPE_VHDX COMPUTE_IMAGE_TYPE_VMDK
  COMPUTE_IMAGE_TYPE_PLOOP COMPUTE_MIGRATE_AUTO_CONVERGE COMPUTE_MIGRATE_POST_COPY COMPUTE_NET_ATTACH_INTERFACE
  COMPUTE_NET_ATTACH_INTERFACE_WITH_TAG COMPUTE_NET_VIF_MODEL_E1000 COMPUTE_NET_VIF_MODEL_E1000E
  COMPUTE_NET_VIF_MODEL_LAN9118 COMPUTE_NET_VIF_MODEL_NETFRONT COMPUTE_NET_VIF_MODEL_NE2K_PCI
  COMPUTE_NET_VIF_MODEL_PCNET COMPUTE_NET_VIF_MODEL_RTL8139 COMPUTE_NET_VIF_MODEL_SPAPR_VLAN
  COMPUTE_NET_VIF_MODEL_SRIOV COMPUTE_NET_VIF_MODEL_VIRTIO COMPUTE_NET_VIF_MODEL_VMXNET COMPUTE_NET_VIF_MODEL_VMXNET3
  COMPUTE_SECURITY_TPM_1_2 COMPUTE_SECURITY_TPM_2_0 COMPUTE_SECURITY_UEFI_SECURE_BOOT COMPUTE_STATUS_DISABLED
  COMPUTE_STORAGE_BUS_FDC COMPUTE_STORAGE_BUS_IDE COMPUTE_STORAGE_BUS_LXC COMPUTE_STORAGE_BUS_SATA
  COMPUTE_STORAGE_BUS_SCSI COMPUTE_STORAGE_BUS_USB COMPUTE_STORAGE_BUS_VIRTIO COMPUTE_STORAGE_BUS_UML
  COMPUTE_STORAGE_BUS_XEN COMPUTE_STORAGE_VIRTIO_FS COMPUTE_VIOMMU_MODEL_INTEL COMPUTE_VIOMMU_MODEL_SMMUV3
  COMPUTE_VIOMMU_MODEL_VIRTIO COMPUTE_VIOMMU_MODEL_AUTO COMPUTE_VOLUME_ATTACH COMPUTE_VOLUME_ATTACH_WITH_TAG
  COMPUTE_VOLUME_EXTEND COMPUTE_VOLUME_MULTI_ATTACH HW_ARCH_ALPHA HW_ARCH_ARMV6 HW_ARCH_ARMV7 HW_ARCH_ARMV7B
  HW_ARCH_AARCH64 HW_ARCH_CRIS HW_ARCH_I686 HW_ARCH_IA64 HW_ARCH_LM32 HW_ARCH_M68K HW_ARCH_MICROBLAZE
  HW_ARCH_MICROBLAZEEL HW_ARCH_MIPS HW_ARCH_MIPSEL HW_ARCH_MIPS64 HW_ARCH_MIPS64EL HW_ARCH_OPENRISC HW_ARCH_PARISC
  HW_ARCH_PARISC64 HW_ARCH_PPC HW_ARCH_PPCLE HW_ARCH_PPC64 HW_ARCH_PPC64LE HW_ARCH_PPCEMB HW_ARCH_S390 HW_ARCH_S390X
  HW_ARCH_SH4 HW_ARCH_SH4EB HW_ARCH_SPARC HW_ARCH_SPARC64 HW_ARCH_UNICORE32 HW_ARCH_X86_64 HW_ARCH_XTENSA
  HW_ARCH_XTENSAEB HW_CPU_HYPERTHREADING HW_CPU_AARCH64_FP HW_CPU_AARCH64_ASIMD HW_CPU_AARCH64_EVTSTRM
  HW_CPU_AARCH64_AES HW_CPU_AARCH64_PMULL HW_CPU_AARCH64_SHA1 HW_CPU_AARCH64_SHA2 HW_CPU_AARCH64_CRC32
  HW_CPU_AARCH64_FPHP HW_CPU_AARCH64_ASIMDHP HW_CPU_AARCH64_ASIMDRDM HW_CPU_AARCH64_ATOMICS HW_CPU_AARCH64_JSCVT
  HW_CPU_AARCH64_FCMA HW_CPU_AARCH64_LRCPC HW_CPU_AARCH64_DCPOP HW_CPU_AARCH64_SHA3 HW_CPU_AARCH64_SM3
  HW_CPU_AARCH64_SM4 HW_CPU_AARCH64_ASIMDDP HW_CPU_AARCH64_SHA512 HW_CPU_AARCH64_SVE HW_CPU_AARCH64_CPUID
  HW_CPU_AMD_SEV HW_CPU_PPC64LE_POWER8 HW_CPU_PPC64LE_POWER9 HW_CPU_X86_AVX HW_CPU_X86_AVX2 HW_CPU_X86_CLMUL
  HW_CPU_X86_FMA3 HW_CPU_X86_FMA4 HW_CPU_X86_F16C HW_CPU_X86_MMX HW_CPU_X86_SSE HW_CPU_X86_SSE2 HW_CPU_X86_SSE3
  HW_CPU_X86_SSSE3 HW_CPU_X86_SSE41 HW_CPU_X86_SSE42 HW_CPU_X86_SSE4A HW_CPU_X86_XOP HW_CPU_X86_3DNOW
  HW_CPU_X86_AVX512F HW_CPU_X86_AVX512CD HW_CPU_X86_AVX512PF HW_CPU_X86_AVX512ER HW_CPU_X86_AVX512VL
  HW_CPU_X86_AVX512BW HW_CPU_X86_AVX512DQ HW_CPU_X86_AVX512VNNI HW_CPU_X86_AVX512VBMI HW_CPU_X86_AVX512IFMA
  HW_CPU_X86_AVX512VBMI2 HW_CPU_X86_AVX512BITALG HW_CPU_X86_AVX512VAES HW_CPU_X86_AVX512GFNI
  HW_CPU_X86_AVX512VPCLMULQDQ HW_CPU_X86_AVX512VPOPCNTDQ HW_CPU_X86_ABM HW_CPU_X86_BMI HW_CPU_X86_BMI2 HW_CPU_X86_TBM
  HW_CPU_X86_AESNI HW_CPU_X86_SHA HW_CPU_X86_MPX HW_CPU_X86_SGX HW_CPU_X86_TSX HW_CPU_X86_ASF HW_CPU_X86_VMX
  HW_CPU_X86_SVM HW_CPU_X86_PDPE1GB HW_CPU_X86_STIBP HW_CPU_X86_AMD_SEV HW_CPU_X86_AMD_SVM HW_CPU_X86_AMD_IBPB
  HW_CPU_X86_AMD_NO_SSB HW_CPU_X86_AMD_SSBD HW_CPU_X86_AMD_VIRT_SSBD HW_CPU_X86_INTEL_MD_CLEAR HW_CPU_X86_INTEL_PCID
  HW_CPU_X86_INTEL_SPEC_CTRL HW_CPU_X86_INTEL_SSBD HW_CPU_X86_INTEL_VMX HW_GPU_API_DIRECTX_V10 HW_GPU_API_DIRECTX_V11
  HW_GPU_API_DIRECTX_V12 HW_GPU_API_DIRECT2D HW_GPU_API_DIRECT3D_V6_0 HW_GPU_API_DIRECT3D_V7_0
  HW_GPU_API_DIRECT3D_V8_0 HW_GPU_API_DIRECT3D_V8_1 HW_GPU_API_DIRECT3D_V9_0 HW_GPU_API_DIRECT3D_V9_0B
  HW_GPU_API_DIRECT3D_V9_0C HW_GPU_API_DIRECT3D_V9_0L HW_GPU_API_DIRECT3D_V10_0 HW_GPU_API_DIRECT3D_V10_1
  HW_GPU_API_DIRECT3D_V11_0 HW_GPU_API_DIRECT3D_V11_1 HW_GPU_API_DIRECT3D_V11_2 HW_GPU_API_DIRECT3D_V11_3
  HW_GPU_API_DIRECT3D_V12_0 HW_GPU_API_VULKAN HW_GPU_API_DXVA HW_GPU_API_OPENCL_V1_0 HW_GPU_API_OPENCL_V1_1
  HW_GPU_API_OPENCL_V1_2 HW_GPU_API_OPENCL_V2_0 HW_GPU_API_OPENCL_V2_1 HW_GPU_API_OPENCL_V2_2 HW_GPU_API_OPENGL_V1_1
  HW_GPU_API_OPENGL_V1_2 HW_GPU_API_OPENGL_V1_3 HW_GPU_API_OPENGL_V1_4 HW_GPU_API_OPENGL_V1_5 HW_GPU_API_OPENGL_V2_0
  HW_GPU_API_OPENGL_V2_1 HW_GPU_API_OPENGL_V3_0 HW_GPU_API_OPENGL_V3_1 HW_GPU_API_OPENGL_V3_2 HW_GPU_API_OPENGL_V3_3
  HW_GPU_API_OPENGL_V4_0 HW_GPU_API_OPENGL_V4_1 HW_GPU_API_OPENGL_V4_2 HW_GPU_API_OPENGL_V4_3 HW_GPU_API_OPENGL_V4_4
  HW_GPU_API_OPENGL_V4_5 HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_0 HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_1
  HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_2 HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_3 HW_GPU_CUDA_COMPUTE_CAPABILITY_V2_0
  HW_GPU_CUDA_COMPUTE_CAPABILITY_V2_1 HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_0 HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_2
  HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_5 HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_7 HW_GPU_CUDA_COMPUTE_CAPABILITY_V5_0
  HW_GPU_CUDA_COMPUTE_CAPABILITY_V5_2 HW_GPU_CUDA_COMPUTE_CAPABILITY_V5_3 HW_GPU_CUDA_COMPUTE_CAPABILITY_V6_0
  HW_GPU_CUDA_COMPUTE_CAPABILITY_V6_1 HW_GPU_CUDA_COMPUTE_CAPABILITY_V6_2 HW_GPU_CUDA_COMPUTE_CAPABILITY_V7_0
  HW_GPU_CUDA_COMPUTE_CAPABILITY_V7_1 HW_GPU_CUDA_COMPUTE_CAPABILITY_V7_2 HW_GPU_CUDA_SDK_V6_5 HW_GPU_CUDA_SDK_V7_5
  HW_GPU_CUDA_SDK_V8_0 HW_GPU_CUDA_SDK_V9_0 HW_GPU_CUDA_SDK_V9_1 HW_GPU_CUDA_SDK_V9_2 HW_GPU_CUDA_SDK_V10_0
  HW_GPU_MAX_DISPLAY_HEADS_1 HW_GPU_MAX_DISPLAY_HEADS_2 HW_GPU_MAX_DISPLAY_HEADS_4 HW_GPU_MAX_DISPLAY_HEADS_6
  HW_GPU_MAX_DISPLAY_HEADS_8 HW_GPU_RESOLUTION_W320H240 HW_GPU_RESOLUTION_W640H480 HW_GPU_RESOLUTION_W800H600
  HW_GPU_RESOLUTION_W1024H600 HW_GPU_RESOLUTION_W1024H768 HW_GPU_RESOLUTION_W1152H864 HW_GPU_RESOLUTION_W1280H720
  HW_GPU_RESOLUTION_W1280H768 HW_GPU_RESOLUTION_W1280H800 HW_GPU_RESOLUTION_W1280H1024 HW_GPU_RESOLUTION_W1360H768
  HW_GPU_RESOLUTION_W1366H768 HW_GPU_RESOLUTION_W1440H900 HW_GPU_RESOLUTION_W1600H900 HW_GPU_RESOLUTION_W1600H1200
  HW_GPU_RESOLUTION_W1680H1050 HW_GPU_RESOLUTION_W1920H1080 HW_GPU_RESOLUTION_W1920H1200 HW_GPU_RESOLUTION_W2560H1440
  HW_GPU_RESOLUTION_W2560H1600 HW_GPU_RESOLUTION_W3840H2160 HW_GPU_RESOLUTION_W7680H4320 HW_NIC_SRIOV
  HW_NIC_MULTIQUEUE HW_NIC_VMDQ HW_NIC_PROGRAMMABLE_PIPELINE HW_NIC_ACCEL_SSL HW_NIC_ACCEL_IPSEC HW_NIC_ACCEL_TLS
  HW_NIC_ACCEL_DIFFIEH HW_NIC_ACCEL_RSA HW_NIC_ACCEL_ECC HW_NIC_ACCEL_LZS HW_NIC_ACCEL_DEFLATE HW_NIC_DCB_PFC
  HW_NIC_DCB_ETS HW_NIC_DCB_QCN HW_NIC_OFFLOAD_TSO HW_NIC_OFFLOAD_GRO HW_NIC_OFFLOAD_GSO HW_NIC_OFFLOAD_UFO
  HW_NIC_OFFLOAD_LRO HW_NIC_OFFLOAD_LSO HW_NIC_OFFLOAD_TCS HW_NIC_OFFLOAD_UCS HW_NIC_OFFLOAD_SCS HW_NIC_OFFLOAD_L2CRC
  HW_NIC_OFFLOAD_FDF HW_NIC_OFFLOAD_RXVLAN HW_NIC_OFFLOAD_TXVLAN HW_NIC_OFFLOAD_VXLAN HW_NIC_OFFLOAD_GRE
  HW_NIC_OFFLOAD_GENEVE HW_NIC_OFFLOAD_TXUDP HW_NIC_OFFLOAD_QINQ HW_NIC_OFFLOAD_RDMA HW_NIC_OFFLOAD_RXHASH
  HW_NIC_OFFLOAD_RX HW_NIC_OFFLOAD_TX HW_NIC_OFFLOAD_SG HW_NIC_OFFLOAD_SWITCHDEV HW_NIC_SRIOV_QOS_TX
  HW_NIC_SRIOV_QOS_RX HW_NIC_SRIOV_MULTIQUEUE HW_NIC_SRIOV_TRUSTED HW_NUMA_ROOT MISC_SHARES_VIA_AGGREGATE OWNER_CYBORG
  OWNER_NOVA STORAGE_DISK_HDD STORAGE_DISK_SSD
`.trim().split(/\s+/);

const RESOURCE_CLASSES = [
  'VCPU', 'MEMORY_MB', 'DISK_GB', 'PCI_DEVICE', 'SRIOV_NET_VF', 'NUMA_SOCKET', 'NUMA_CORE', 'NUMA_THREAD', 'NUMA_MEMORY_MB',
  'IPV4_ADDRESS', 'VGPU', 'VGPU_DISPLAY_HEAD', 'NET_BW_EGR_KILOBIT_PER_SEC', 'NET_BW_IGR_KILOBIT_PER_SEC', 'PCPU',
  'MEM_ENCRYPTION_CONTEXT', 'FPGA', 'PGPU', 'NET_PACKET_RATE_KILOPACKET_PER_SEC', 'NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC',
  'NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC',
];

const CAPABILITIES = [
  'id', 'uuid', 'service_id', 'host', 'vcpus', 'memory_mb', 'local_gb', 'vcpus_used', 'memory_mb_used', 'local_gb_used',
  'hypervisor_type', 'hypervisor_version', 'hypervisor_hostname', 'free_ram_mb', 'free_disk_gb', 'current_workload',
  'running_vms', 'disk_available_least', 'host_ip', 'mapped', 'cpu_allocation_ratio', 'ram_allocation_ratio',
  'disk_allocation_ratio', 'total_usable_ram_mb', 'total_usable_disk_gb', 'disk_mb_used', 'free_disk_mb', 'vcpus_total',
  'num_instances', 'num_io_ops', 'failed_builds', 'aggregates', 'cell_uuid', 'updated',
];
const CAPABILITIES_WITH_FILTER = [
  'cpu_info', 'metrics', 'stats', 'numa_topology', 'supported_hv_specs', 'pci_device_pools', 'nodename', 'pci_stats',
  'supported_instances', 'limits', 'instances',
];

const QUOTA: [string, ValueRule][] = [
  ...['cpu', 'memory', 'disk_io', 'vif'].flatMap((r): [string, ValueRule][] => [
    [`${r}_limit`, int(0)],
    [`${r}_reservation`, int()],
    [`${r}_shares_level`, SHARES_LEVEL],
    [`${r}_shares_share`, int(0)],
  ]),
  ['cpu_shares', int(0)],
  ['cpu_period', int(0)],
  ['cpu_quota', int()],
  ...['disk_read_bytes_sec', 'disk_read_iops_sec', 'disk_write_bytes_sec', 'disk_write_iops_sec', 'disk_total_bytes_sec', 'disk_total_iops_sec']
    .map((k): [string, ValueRule] => [k, int(0)]),
  ...['inbound', 'outbound'].flatMap((d) => ['average', 'peak', 'burst'].map((k): [string, ValueRule] => [`vif_${d}_${k}`, int(0)])),
];

/** In Nova's registration order, which decides the first match for parameterised names. */
const SPECS: [string, ValueRule][] = [
  ['accel:device_profile', str()],
  ['aggregate_instance_extra_specs:{key}', str()],
  ...CAPABILITIES.map((c): [string, ValueRule] => [`capabilities:${c}`, str()]),
  ...CAPABILITIES_WITH_FILTER.map((c): [string, ValueRule] => [`capabilities:${c}{filter}`, str()]),
  ['hw:cpu_realtime', bool],
  ['hw:cpu_realtime_mask', str({ pattern: '(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*' })],
  ['hw:hide_hypervisor_id', bool],
  ['hw:cpu_policy', oneOf('dedicated', 'shared', 'mixed')],
  ['hw:cpu_thread_policy', oneOf('prefer', 'isolate', 'require')],
  ['hw:emulator_threads_policy', oneOf('isolate', 'share')],
  ['hw:cpu_dedicated_mask', str({ pattern: CPU_MASK })],
  ['hw:mem_page_size', str({ pattern: '(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)' })],
  ['hw:locked_memory', bool],
  ['hw:numa_nodes', int(1)],
  ['hw:numa_cpus.{num}', str({ pattern: CPU_MASK })],
  ['hw:numa_mem.{num}', int(1)],
  ['hw:pci_numa_affinity_policy', oneOf('required', 'preferred', 'legacy', 'socket')],
  ['hw:cpu_sockets', int(1)],
  ['hw:cpu_cores', int(1)],
  ['hw:cpu_threads', int(1)],
  ['hw:max_cpu_sockets', int(1)],
  ['hw:max_cpu_cores', int(1)],
  ['hw:max_cpu_threads', int(1)],
  ['hw:boot_menu', bool],
  ['hw:vif_multiqueue_enabled', bool],
  ['hw:mem_encryption', bool],
  ['hw:pmem', str({ pattern: '([a-zA-Z0-9_]+(,)?)+' })],
  ['hw:pmu', bool],
  ['hw:serial_port_count', int(0)],
  ['hw:tpm_model', oneOf('tpm-tis', 'tpm-crb')],
  ['hw:tpm_version', oneOf('1.2', '2.0')],
  ['hw:watchdog_action', oneOf('none', 'pause', 'poweroff', 'reset', 'disabled')],
  ['hw:viommu_model', oneOf('intel', 'smmuv3', 'virtio', 'auto')],
  ['hw:ephemeral_encryption', bool],
  ['hw:ephemeral_encryption_format', oneOf('plain', 'luks', 'luksv2')],
  ['hw_rng:allowed', bool],
  ['hw_rng:rate_bytes', int(0)],
  ['hw_rng:rate_period', int(0)],
  ['hw_video:ram_max_mb', int(0)],
  ['hide_hypervisor_id', bool],
  ['group_policy', oneOf('isolate', 'none')],
  ['os:secure_boot', oneOf('disabled', 'required')],
  ['os:resolution', oneOf('1024x768', '1280x1024', '1600x1200', '1920x1200', '2560x1600', '3840x2160')],
  ['os:monitors', int(1, 8)],
  ['os:vram', oneOf('64', '128', '256', '512', '1024')],
  ['pci_passthrough:alias', str({ pattern: '[^:]+:\\d+(?:\\s*,\\s*[^:]+:\\d+)*' })],
  ...QUOTA.map(([k, v]): [string, ValueRule] => [`quota:${k}`, v]),
  ...RESOURCE_CLASSES.map((r): [string, ValueRule] => [`resources{group}:${r}`, int()]),
  ['resources{group}:CUSTOM_{resource}', int()],
  ...STANDARD_TRAITS.map((t): [string, ValueRule] => [`trait{group}:${t}`, TRAIT_VALUE]),
  ['trait{group}:CUSTOM_{trait}', TRAIT_VALUE],
  ['vmware:hw_version', str()],
  ['vmware:storage_policy', str()],
];

/** As Python's re would read them: the name is a regular expression with {parameters} filled in. */
const nameRegex = (name: string) => name.replace(/\{(\w+)\}/g, (_, p: string) => `(${PARAMETERS[p]})`);

const RULES: ExtraSpecRule[] = SPECS.map(([name, value]) => ({ name, value, regex: new RegExp(`^(?:${nameRegex(name)})$`) }));
const BY_NAME = new Map(RULES.map((r) => [r.name, r]));
const NAMESPACES = [...new Set(RULES.filter((r) => r.name.includes(':')).map((r) => nameRegex(r.name).split(':')[0]))].map(
  (ns) => new RegExp(`^(?:${ns})$`),
);

/**
 * Equivalent forms of Nova's value patterns whose nested repetition would backtrack for
 * ages on a long bad value (the messages still quote Nova's pattern).
 */
const SAFE_PATTERNS: Record<string, string> = {
  [CPU_MASK]: '\\^?\\d+(?:-\\d+|,\\^?\\d+)*',
  '(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*': '\\^?\\d+(?:-\\d+|,\\^?\\d+)*',
  '([a-zA-Z0-9_]+(,)?)+': '[a-zA-Z0-9_]+(?:,[a-zA-Z0-9_]+)*,?',
};
const fullMatch = (pattern: string, value: string) => new RegExp(`^(?:${SAFE_PATTERNS[pattern] ?? pattern})$`).test(value);

/** Python's int(): surrounding blanks, a sign and digit-separating underscores are fine. */
function pythonInt(value: string): number | null {
  return /^\s*[+-]?\d+(?:_\d+)*\s*$/.test(value) ? Number(value.trim().replace(/_/g, '')) : null;
}

const TRUE_STRINGS = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE_STRINGS = ['0', 'f', 'false', 'off', 'n', 'no'];

const failed = (reason: string) => invalid(`Validation failed; ${reason}`);

function checkValue(rule: ValueRule, value: string): void {
  switch (rule.type) {
    case 'int': {
      const n = pythonInt(value);
      if (n === null) throw failed(`'${value}' is not a valid integer value.`);
      if (rule.max !== undefined && rule.max < n) throw failed(`'${n}' is greater than the max value of '${rule.max}'.`);
      if (rule.min !== undefined && rule.min > n) throw failed(`'${n}' is less than the min value of '${rule.min}'.`);
      return;
    }
    case 'bool': {
      const v = value.trim().toLowerCase();
      if (!TRUE_STRINGS.includes(v) && !FALSE_STRINGS.includes(v)) throw failed(`'${value}' is not a valid boolean-like value.`);
      return;
    }
    case 'str':
      if (rule.pattern !== undefined) {
        if (!fullMatch(rule.pattern, value)) throw failed(`'${value}' is not of the format '${rule.pattern}'.`);
      } else if (rule.enum && !rule.enum.includes(value)) {
        throw failed(`'${value}' is not one of: ${rule.enum.join(', ')}.`);
      }
  }
}

/** Throws a 400 worded as Nova's when `name` is a spec Nova knows and `value` is wrong for it. */
export function validateExtraSpec(name: string, value: string): void {
  const rule = BY_NAME.get(name) ?? RULES.find((r) => r.regex.test(name));
  if (rule) return checkValue(rule.value, value);
  if (!name.includes(':')) return;
  const namespace = name.split(':', 1)[0];
  if (NAMESPACES.some((ns) => ns.test(namespace))) {
    throw failed(`extra spec '${name}' does not appear to be a valid extra spec.`);
  }
}
