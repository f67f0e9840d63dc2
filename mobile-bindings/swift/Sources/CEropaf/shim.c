// SwiftPM needs one source file in a C target; the code itself is in Eropaf.xcframework.
