# gRPC front (issue 6): protobuf-c messages generated at build time from server/grpc/proto
# into the build dir, plus grpc core. Without the packages (scripts/bootstrap installs them:
# libgrpc-dev, libprotobuf-c-dev, protobuf-c-compiler) Orchard builds without gRPC and
# `orchard serve` says so when --port is given.
pkg_check_modules(GRPC IMPORTED_TARGET grpc)
pkg_check_modules(PROTOBUF_C IMPORTED_TARGET libprotobuf-c)
find_program(ORCHARD_PROTOC_C NAMES protoc-c)
if(NOT (GRPC_FOUND AND PROTOBUF_C_FOUND AND ORCHARD_PROTOC_C))
  message(WARNING "Orchard: gRPC front OFF (install libgrpc-dev, libprotobuf-c-dev and "
                  "protobuf-c-compiler: scripts/bootstrap)")
  return()
endif()
message(STATUS "Orchard: gRPC front ON (grpc core ${GRPC_VERSION}, protoc-c ${ORCHARD_PROTOC_C})")

set(ORCHARD_PROTO_DIR ${CMAKE_CURRENT_SOURCE_DIR}/server/grpc/proto)
set(ORCHARD_PROTO_OUT ${CMAKE_CURRENT_BINARY_DIR}/grpc_gen)
set(ORCHARD_PROTOS
  google/protobuf/any.proto
  google/protobuf/wrappers.proto
  tensorflow/core/framework/types.proto
  tensorflow/core/framework/tensor_shape.proto
  tensorflow/core/framework/tensor.proto
  tensorflow/core/protobuf/error_codes.proto
  tensorflow/core/protobuf/meta_graph.proto
  tensorflow_serving/util/status.proto
  tensorflow_serving/apis/model.proto
  tensorflow_serving/apis/predict.proto
  tensorflow_serving/apis/get_model_metadata.proto
  tensorflow_serving/apis/get_model_status.proto
  tensorflow_serving/apis/prediction_service.proto
  tensorflow_serving/apis/model_service.proto
  grpc/health/v1/health.proto
  grpc_predict_v2.proto)
set(ORCHARD_PROTO_SRCS "")
set(ORCHARD_PROTO_INPUTS "")
foreach(p ${ORCHARD_PROTOS})
  string(REGEX REPLACE "\\.proto$" "" base ${p})
  list(APPEND ORCHARD_PROTO_SRCS ${ORCHARD_PROTO_OUT}/${base}.pb-c.c)
  list(APPEND ORCHARD_PROTO_INPUTS ${ORCHARD_PROTO_DIR}/${p})
endforeach()
add_custom_command(
  OUTPUT ${ORCHARD_PROTO_SRCS}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${ORCHARD_PROTO_OUT}
  COMMAND ${ORCHARD_PROTOC_C} -I${ORCHARD_PROTO_DIR} --c_out=${ORCHARD_PROTO_OUT} ${ORCHARD_PROTOS}
  WORKING_DIRECTORY ${ORCHARD_PROTO_DIR}
  DEPENDS ${ORCHARD_PROTO_INPUTS}
  COMMENT "protoc-c: gRPC messages (server/grpc/proto)"
  VERBATIM)
# Generated code is not ours to keep warning-free.
set_source_files_properties(${ORCHARD_PROTO_SRCS} PROPERTIES GENERATED TRUE
  COMPILE_OPTIONS "-Wno-error;-Wno-unused-parameter")

target_sources(orchard_srv PRIVATE
  ${ORCHARD_PROTO_SRCS}
  ${CMAKE_CURRENT_SOURCE_DIR}/server/grpc/codec.c
  ${CMAKE_CURRENT_SOURCE_DIR}/server/grpc/server.c)
target_include_directories(orchard_srv PUBLIC ${ORCHARD_PROTO_OUT})
target_compile_definitions(orchard_srv PUBLIC ORCHARD_HAVE_GRPC)
target_link_libraries(orchard_srv PUBLIC PkgConfig::GRPC PkgConfig::PROTOBUF_C)
