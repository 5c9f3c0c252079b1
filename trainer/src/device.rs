//! Backend and device selection at run time. The device is always chosen explicitly:
//! a CUDA-enabled build must still train on the CPU when asked to.

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
    match choice {
        BackendChoice::Cpu => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let info = DeviceInfo {
                backend: "flex".into(),
                device: format!("cpu ({threads} threads)"),
            };
            job.run::<Autodiff<burn::backend::Flex>>(burn::backend::flex::FlexDevice, info)
        }
        BackendChoice::Cuda => run_cuda(job),
    }
}

#[cfg(feature = "cuda")]
fn run_cuda<J: BackendJob>(job: J) -> Result<J::Output, TrainError> {
    let device = burn::backend::cuda::CudaDevice::new(0);
    let info = DeviceInfo {
        backend: "cuda".into(),
        device: format!("{device:?}"),
    };
    job.run::<Autodiff<burn::backend::Cuda>>(device, info)
}

#[cfg(not(feature = "cuda"))]
fn run_cuda<J: BackendJob>(_job: J) -> Result<J::Output, TrainError> {
    Err(TrainError::BackendUnavailable("cuda"))
}

/// Whether this binary can train on `choice`.
pub fn is_available(choice: BackendChoice) -> bool {
    match choice {
        BackendChoice::Cpu => true,
        BackendChoice::Cuda => cfg!(feature = "cuda"),
    }
}
