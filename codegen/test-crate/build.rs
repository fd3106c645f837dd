fn main() {
    grpc_sansio_build::Builder::new()
        .include("proto")
        .compile(["proto/ecommerce.proto", "proto/routes.proto"])
        .expect("compiling test protos");
}
