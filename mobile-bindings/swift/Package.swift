// swift-tools-version:5.9
// SwiftPM package for the iOS binding. Not built in eropaf's CI (no Swift toolchain on Debian
// here); see docs/bindings.md for how to produce Eropaf.xcframework and the generated messages.
import PackageDescription

let package = Package(
  name: "Eropaf",
  platforms: [.iOS(.v15), .macOS(.v12)],
  products: [.library(name: "Eropaf", targets: ["Eropaf"])],
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.25.0"),
  ],
  targets: [
    // The C ABI, core and protobuf code as one static library per platform (device, simulator),
    // built with the CMake iOS toolchain and packed with `xcodebuild -create-xcframework`.
    .binaryTarget(name: "EropafNative", path: "Eropaf.xcframework"),
    .target(name: "CEropaf", dependencies: ["EropafNative"], path: "Sources/CEropaf"),
    // Eropaf.swift plus the messages protoc-gen-swift generates from ../../proto into
    // Sources/Eropaf/Generated/.
    .target(
      name: "Eropaf",
      dependencies: ["CEropaf", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      path: "Sources/Eropaf"),
  ]
)
