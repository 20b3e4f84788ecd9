// kmem-build example tree (not Kubernetes): same module path and vendoring as kubernetes/kubernetes.
module k8s.io/kubernetes

go 1.15

require github.com/opencontainers/runc v1.0.0-rc92
