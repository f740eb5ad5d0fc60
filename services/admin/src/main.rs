#[global_allocator]
static ALLOCATOR: service_kit::Allocator = service_kit::Allocator;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::cli::main::<admin::Binary>().await
}
