"""The Kubernetes target: manifests derived from the ServiceSpecs and pipeline specs (render), and the tools
that check them without a cluster (kubeconform with the Kubernetes and operator CRD schemas, a local
kube-apiserver + etcd for server-side dry-runs)."""
