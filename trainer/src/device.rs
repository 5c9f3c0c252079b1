//! Backend and device selection at run time. The device is always chosen explicitly: a
//! CUDA-enabled build must still train on the CPU when asked to, and "auto" resolves to one
//! concrete backend before anything is built.

use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;
use experiment::BackendChoice;

use crate::TrainError;

/// A training job that can run on any autodiff backend.
pub trait BackendJob {
    type Output;
    fn run<B: AutodiffBackend>(
        self,
        device: B::Device,
        info: DeviceInfo,
    ) -> Result<Self::Output, TrainError>;
}

/// What ran a job, for the run's page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub backend: String,
    pub device: String,
}

/// Runs `job` on the requested backend, or explains why it cannot.
pub fn run_on<J: BackendJob>(choice: BackendChoice, job: J) -> Result<J::Output, TrainError> {
    match resolve(choice)? {
        BackendChoice::Cuda => run_cuda(job),
        BackendChoice::Wgpu => run_wgpu(job),
        _ => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let info = DeviceInfo {
                backend: "flex".into(),
                device: format!("cpu ({threads} threads)"),
            };
            job.run::<Autodiff<burn::backend::Flex>>(burn::backend::flex::FlexDevice, info)
        }
    }
}

/// The concrete backend `choice` trains on in this binary on this machine (never `Auto`), or
/// why it cannot train there.
pub fn resolve(choice: BackendChoice) -> Result<BackendChoice, TrainError> {
    match choice {
        BackendChoice::Cpu => Ok(BackendChoice::Cpu),
        BackendChoice::Cuda => {
            if !cfg!(feature = "cuda") {
                return Err(TrainError::BackendUnavailable("cuda"));
            }
            cuda_device_name().map_err(TrainError::NoDevice)?;
            Ok(BackendChoice::Cuda)
        }
        BackendChoice::Wgpu if cfg!(feature = "wgpu") => Ok(BackendChoice::Wgpu),
        BackendChoice::Wgpu => Err(TrainError::BackendUnavailable("wgpu")),
        BackendChoice::Auto => Ok(if cfg!(feature = "cuda") && cuda_device_name().is_ok() {
            BackendChoice::Cuda
        } else {
            BackendChoice::Cpu
        }),
    }
}

/// Why this binary cannot train on `choice` on this machine, in words for a field error; `None`
/// when it can.
pub fn unavailable(choice: BackendChoice) -> Option<String> {
    match resolve(choice) {
        Ok(_) => None,
        Err(TrainError::BackendUnavailable(name)) => Some(format!(
            "this server was built without {}; rebuild with `--features {name}`, or choose \"cpu\" or \"auto\"",
            name.to_uppercase()
        )),
        Err(e) => Some(format!("{e}; choose \"cpu\" or \"auto\"")),
    }
}

/// Why this binary could not train on `choice` on any machine (a backend not compiled in); `None`
/// when it could. For runs placed elsewhere (Slurm, worker processes on other hosts), whose
/// machines are asked when the job starts there.
pub fn unbuilt(choice: BackendChoice) -> Option<String> {
    let built = match choice {
        BackendChoice::Cuda => cfg!(feature = "cuda"),
        BackendChoice::Wgpu => cfg!(feature = "wgpu"),
        BackendChoice::Cpu | BackendChoice::Auto => true,
    };
    (!built).then(|| unavailable(choice)).flatten()
}

/// The first CUDA device's name ("NVIDIA H100 80GB HBM3"), or why there is none. Asks the
/// driver directly, without building a Burn device: a missing driver is an answer, not a panic.
#[cfg(feature = "cuda")]
#[allow(unsafe_code)]
pub fn cuda_device_name() -> Result<String, String> {
    use cudarc::driver::{CudaContext, result};
    // SAFETY: only tries to open the driver library; nothing is called through it yet.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err("no NVIDIA driver (libcuda.so) on this machine".into());
    }
    let count = CudaContext::device_count().map_err(|e| format!("the CUDA driver: {e:?}"))?;
    if count < 1 {
        return Err("the NVIDIA driver sees no CUDA device".into());
    }
    let dev = result::device::get(0).map_err(|e| format!("CUDA device 0: {e:?}"))?;
    result::device::get_name(dev).map_err(|e| format!("CUDA device 0: {e:?}"))
}

#[cfg(not(feature = "cuda"))]
pub fn cuda_device_name() -> Result<String, String> {
    Err("this binary was built without CUDA".into())
}

#[cfg(feature = "cuda")]
fn run_cuda<J: BackendJob>(job: J) -> Result<J::Output, TrainError> {
    let name = cuda_device_name().map_err(TrainError::NoDevice)?;
    let device = burn::backend::cuda::CudaDevice::new(0);
    let info = DeviceInfo {
        backend: "cuda".into(),
        device: format!("cuda:0 {name}"),
    };
    job.run::<Autodiff<burn::backend::Cuda>>(device, info)
}

#[cfg(not(feature = "cuda"))]
fn run_cuda<J: BackendJob>(_job: J) -> Result<J::Output, TrainError> {
    Err(TrainError::BackendUnavailable("cuda"))
}

#[cfg(feature = "wgpu")]
fn run_wgpu<J: BackendJob>(job: J) -> Result<J::Output, TrainError> {
    // The adapter wgpu picks by default (a discrete GPU first); CUBECL_WGPU_DEFAULT_DEVICE
    // overrides it (`Cpu` for a software driver such as Mesa's lavapipe).
    let device = burn::backend::wgpu::WgpuDevice::default();
    let info = DeviceInfo {
        backend: "wgpu".into(),
        device: format!("wgpu:{device:?}"),
    };
    job.run::<Autodiff<burn::backend::Wgpu>>(device, info)
}

#[cfg(not(feature = "wgpu"))]
fn run_wgpu<J: BackendJob>(_job: J) -> Result<J::Output, TrainError> {
    Err(TrainError::BackendUnavailable("wgpu"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_auto_always_resolve_and_what_is_not_built_is_refused_with_a_reason() {
        assert_eq!(resolve(BackendChoice::Cpu).unwrap(), BackendChoice::Cpu);
        let auto = resolve(BackendChoice::Auto).unwrap();
        assert_ne!(
            auto,
            BackendChoice::Auto,
            "auto resolves to a concrete backend"
        );
        if !cfg!(feature = "cuda") {
            assert_eq!(auto, BackendChoice::Cpu);
            let why = unavailable(BackendChoice::Cuda).unwrap();
            assert!(why.contains("--features cuda"), "{why}");
        }
        if !cfg!(feature = "wgpu") {
            let why = unavailable(BackendChoice::Wgpu).unwrap();
            assert!(why.contains("--features wgpu"), "{why}");
        } else {
            assert!(unavailable(BackendChoice::Wgpu).is_none());
        }
        assert!(unavailable(BackendChoice::Cpu).is_none());
    }
}
