// Package kube keeps the Kubernetes metadata of the pods on this node: a
// client-go informer on the node's pods (field selector spec.nodeName),
// indexed by container id and pod UID, turns each pod into the resource
// attributes of its containers (check.Kubernetes): names, image, owning
// workload, selected labels and the declared securityContext
// capabilities. The controller looks checks up in it; a pod the informer
// has not seen yet is the controller's to wait for (late binding).
//
// Losing the API server does not lose what is known: lookups keep
// answering from the last state, the informer resyncs when the server is
// back, and the state changes are reported through Config.OnState.
package kube
